"""The models: checkpoints added one by one and models folders scanned, listed with their family.

Listing reads safetensors headers only (core.checkpoints), never weights and never torch.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.core.checkpoints import MADE_FOR_LABELS, CheckpointInfo, inspect, scan_folder

FAMILY_LABELS = {
    "sd15": "SD 1.5", "sd15_inpaint": "SD 1.5 inpainting", "sd2": "SD 2 (ε)", "sd2_v": "SD 2 (v)",
    "sd2_inpaint": "SD 2 inpainting", "sdxl": "SDXL", "sdxl_inpaint": "SDXL inpainting",
    "starter": "Studio starter (photos; ignores prompts)",
}


def find_models(files: list[str], folders: list[str]) -> list[CheckpointInfo]:
    """Every checkpoint the user has pointed Studio at, each path once, files added by hand first."""
    seen: set[str] = set()
    found: list[CheckpointInfo] = []
    scanned = [info for folder in folders for info in scan_folder(folder)]
    for info in [inspect(f) for f in files] + scanned:
        key = str(Path(info.path).resolve())
        if key not in seen:
            seen.add(key)
            found.append(info)
    return found


OWN_PANEL_KINDS = {"controlnet": "ControlNet", "upscaler": "×4 upscaler", "lora": "LoRA",  # chosen in the task panels
                   "embedding": "Embedding"}  # called by name in a prompt


def describe(info: CheckpointInfo) -> str:
    if info.problem:
        return info.problem
    layout = "diffusers folder" if info.layout == "diffusers" else "single file"
    if info.family == "starter_sr":
        return "Studio starter ×4 upscaler (ignores prompts)"
    if info.kind == "lora" and info.family in MADE_FOR_LABELS:
        return f"LoRA for {MADE_FOR_LABELS[info.family]} · {layout}"
    if info.kind == "embedding":
        family = f" for {MADE_FOR_LABELS[info.family]}" if info.family in MADE_FOR_LABELS else ""
        return f"Embedding{family}: write {info.path.stem} in a prompt"
    if info.kind in OWN_PANEL_KINDS:
        return f"{OWN_PANEL_KINDS[info.kind]} · {layout}"
    if info.starter:
        return FAMILY_LABELS["starter"]
    if info.kind != "pipeline":
        return f"a {info.kind} model: not usable as a base model"
    return f"{FAMILY_LABELS.get(info.family, info.family)} · {layout}"


class ModelPanel(QWidget):
    model_selected = Signal(str)
    add_file_requested = Signal()
    add_folder_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("modelCombo")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.status = QLabel()
        self.status.setObjectName("modelStatus")
        self.status.setWordWrap(True)
        add_file = QPushButton("Add checkpoint…")
        add_folder = QPushButton("Add folder…")
        add_file.setToolTip("Add one .safetensors checkpoint (SD 1.x, 2.x, SDXL) or a diffusers folder")
        add_folder.setToolTip("Add a models folder (AUTOMATIC1111 models/Stable-diffusion, ComfyUI models/checkpoints)")
        add_file.clicked.connect(self.add_file_requested)
        add_folder.clicked.connect(self.add_folder_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(add_file)
        buttons.addWidget(add_folder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.entries: list[CheckpointInfo] = []
        self.combo.currentIndexChanged.connect(self._selected)

    def set_entries(self, entries: list[CheckpointInfo], current: str | None) -> None:
        self.entries = entries
        listed = [info for info in entries if info.kind not in OWN_PANEL_KINDS]
        self.combo.blockSignals(True)
        self.combo.clear()
        if not listed:
            self.combo.addItem("No model yet: add a checkpoint or a models folder", None)
        for info in listed:
            usable = info.kind == "pipeline" and not info.problem
            self.combo.addItem(info.name, str(info.path))
            row = self.combo.count() - 1
            self.combo.setItemData(row, describe(info), Qt.ItemDataRole.ToolTipRole)
            if not usable:
                self.combo.model().item(row).setEnabled(False)
        index = self.combo.findData(current) if current else -1
        if index < 0 or not self.combo.model().item(index).isEnabled():
            index = next((i for i, e in enumerate(listed) if e.kind == "pipeline" and not e.problem), 0)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self._show_status()

    @property
    def current_path(self) -> str | None:
        path = self.combo.currentData()
        info = self._info(path)
        return path if info is not None and info.kind == "pipeline" and not info.problem else None

    def _info(self, path: str | None) -> CheckpointInfo | None:
        return next((e for e in self.entries if str(e.path) == path), None)

    def _selected(self, _index: int) -> None:
        self._show_status()
        if self.current_path:
            self.model_selected.emit(self.current_path)

    def _show_status(self, extra: str = "") -> None:
        info = self._info(self.combo.currentData())
        text = describe(info) if info else "Studio needs a Stable Diffusion checkpoint to generate."
        self.status.setText(f"{text}{' · ' + extra if extra else ''}")
        self.status.setProperty("problem", info is None or bool(info.problem) or info.kind != "pipeline")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def show_state(self, state: str) -> None:
        """'loading', 'ready', or a failure message, after the family line."""
        self._show_status(state)
