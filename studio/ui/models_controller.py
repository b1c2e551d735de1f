"""Which models the window knows (files added, folders scanned), which one is chosen, and its loading in the
worker, shown as it happens. Listing never imports torch; loading happens in the worker only."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal

from studio.core.checkpoints import inspect
from studio.core.settings import Settings
from studio.core.starter import bundled_starter_dir, bundled_starters
from studio.ui import dialogs
from studio.ui.messages import ERROR, INFO, WARNING
from studio.ui.model_panel import OWN_PANEL_KINDS, ModelPanel, find_models
from studio.ui.worker import WorkerThread


class ModelsController(QObject):
    changed = Signal()  # the list or the choice changed (the window saves settings, updates its page)
    loading = Signal(bool)  # a model load started (True) or ended (False)
    listed = Signal(list)  # every model listed ([CheckpointInfo]): the task panels take their ControlNets, upscalers

    def __init__(self, panel: ModelPanel, settings: Settings, worker: WorkerThread,
                 show_message: Callable[[str, str], None], parent: QObject | None = None):
        super().__init__(parent)
        self.panel = panel
        self.settings = settings
        self.worker = worker
        self.show_message = show_message
        self.preload = False  # load the chosen model as soon as it is chosen (set once the window shows)
        panel.model_selected.connect(self._selected)
        panel.add_file_requested.connect(self.ask_add_checkpoint)
        panel.add_folder_requested.connect(self.ask_add_folder)
        worker.worker.model_loading.connect(self._loading)
        worker.worker.model_ready.connect(self._ready)
        worker.worker.model_failed.connect(self._failed)

    @property
    def current(self) -> str | None:
        return self.panel.current_path

    @property
    def any_listed(self) -> bool:
        return bool(self.panel.entries)

    def refresh(self) -> None:
        entries = find_models(self.settings.model_files, self.settings.model_folders)
        self.panel.set_entries(entries, self.settings.last_model)
        self.listed.emit(entries)
        self.changed.emit()

    def choose(self, path: str) -> bool:
        """Make `path` the chosen model if it is listed and usable."""
        self.panel.set_entries(self.panel.entries, path)
        if self.current == path:
            self.settings.last_model = path
            self.changed.emit()
        return self.current == path

    def find_by_name(self, name: str) -> str | None:
        """The listed base model whose file or folder name is `name` (as AUTOMATIC1111 writes "Model:"), any case."""
        wanted = name.strip().lower()
        found = [entry for entry in self.panel.entries if entry.kind == "pipeline" and not entry.problem
                 and entry.path.stem.lower() == wanted]
        return str(found[0].path) if len(found) == 1 else None

    def is_listed(self, path: str) -> bool:
        return any(str(entry.path) == path for entry in self.panel.entries)

    def load_chosen(self) -> None:
        if self.current:
            self.worker.load_model(self.current)

    # Adding

    def ask_add_checkpoint(self) -> None:
        folders = self.settings.model_folders
        path = dialogs.ask_checkpoint(self.panel.window(), folders[0] if folders else None)
        if path is not None:
            self.add_checkpoint(path)

    def ask_add_folder(self) -> None:
        path = dialogs.ask_models_folder(self.panel.window(), None)
        if path is not None:
            self.add_folder(path)

    def add_checkpoint(self, path: str | Path, quiet: bool = False) -> None:
        """Add one model: a base model becomes the chosen one; a ControlNet, an upscaler or a LoRA goes to its panel."""
        path = str(Path(path).expanduser().resolve())
        if path not in self.settings.model_files:
            self.settings.model_files.append(path)
        if inspect(path).kind not in OWN_PANEL_KINDS:
            self.settings.last_model = path
        self.refresh()
        self._report_added([path], quiet)

    def add_folder(self, path: str | Path) -> None:
        path = str(Path(path).expanduser().resolve())
        if inspect(path).kind == "controlnet":  # a ControlNet's diffusers folder is one model, not a folder of them
            self.add_checkpoint(path)
            return
        if path not in self.settings.model_folders:
            self.settings.model_folders.append(path)
        before = {str(entry.path) for entry in self.panel.entries}
        self.refresh()
        added = [str(entry.path) for entry in self.panel.entries if str(entry.path) not in before]
        if not added:
            self.show_message(f"No checkpoints found in {path}.", WARNING)
            return
        self._report_added(added, quiet=False)

    def _report_added(self, paths: list[str], quiet: bool) -> None:
        added = [entry for entry in self.panel.entries if str(entry.path) in paths and not entry.problem]
        counts = {kind: sum(entry.kind == kind for entry in added) for kind in ("pipeline", *OWN_PANEL_KINDS)}
        if not quiet and not any(counts.values()):
            problem = next((entry.problem for entry in self.panel.entries if str(entry.path) in paths and entry.problem), None)
            self.show_message(f"Not usable as a base model: {problem or 'not a Stable Diffusion pipeline'}", ERROR)
        elif not quiet:
            names = {"pipeline": "model", "controlnet": "ControlNet", "upscaler": "upscaler", "lora": "LoRA",
                     "embedding": "embedding"}
            found = [f"{n} {names[kind]}{'s' if n != 1 else ''}" for kind, n in counts.items() if n]
            self.show_message(f"Found {', '.join(found)}.", INFO)
        if self.current:
            self._selected(self.current)

    # Studio's own starter models

    def use_starters(self) -> None:
        """List the bundled starter models and choose the photo model (the upscale panel finds the SR one)."""
        folder = str(bundled_starter_dir().resolve())
        if not bundled_starters():
            self.show_message("This copy of Studio has no starter models.", WARNING)
            return
        if folder not in self.settings.model_folders:
            self.settings.model_folders.append(folder)
        self.refresh()
        photo = next((e for e in self.panel.entries if e.starter and e.kind == "pipeline" and not e.problem), None)
        if photo is not None:
            self.choose(str(photo.path))
        self.show_message("Starter models ready: they inpaint, repaint (SDEdit) and upscale from the picture alone "
                          "and ignore prompts.", INFO)

    # Choosing and loading

    def _selected(self, path: str) -> None:
        self.settings.last_model = path
        self.changed.emit()
        if self.preload:
            self.worker.load_model(path)

    def _loading(self, path: str) -> None:
        if path == self.current:  # the base model (an upscaler loads too, but its choice lives in its panel)
            self.panel.show_state("loading…")
        self.loading.emit(True)

    def _ready(self, path: str) -> None:
        if path == self.current:
            self.panel.show_state("loaded")
        self.loading.emit(False)

    def _failed(self, path: str, message: str) -> None:
        if path == self.current:
            self.panel.show_state("failed to load")
        self.loading.emit(False)
        self.show_message(message, ERROR)
