"""The main window: canvas in the middle, job panels on the right, results below, brush options above.

It owns the document; the models, the jobs and the commands each have their own small class. Every
user-facing failure ends in the message bar, with the picture and mask untouched.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.autosave import Snapshot
from studio.core.brush import Brush
from studio.core.canvas import OVERLAP, CanvasError, blank_canvas
from studio.core.checkpoints import PICKLE_SUFFIXES, SAFE_SUFFIXES
from studio.core.images import max_picture_pixels
from studio.core.outputs import outputs_dir
from studio.core.document import Document, changed_box
from studio.core.layers import LayeredDocument, control_layer
from studio.core.a1111_params import parse_parameters
from studio.core.metadata import write_png
from studio.core.settings import Settings, load_settings, save_settings
from studio.core.starter import bundled_starters
from studio.ui import dialogs
from studio.ui.autosaver import DocumentAutosave
from studio.ui.batch_controller import BatchController
from studio.ui.canvas import CanvasView
from studio.ui.commands import Commands
from studio.ui.control_maps import ControlMapsController
from studio.ui.expand_canvas import choose_task
from studio.ui.job_controller import JobController
from studio.ui.messages import ERROR, INFO, WARNING, MessageBar
from studio.ui.model_panel import ModelPanel
from studio.ui.models_controller import ModelsController
from studio.ui.panels import TASKS_USING_CONTROLNETS, RecipePanel
from studio.ui.picture_loader import OpenedPicture, PictureLoader
from studio.ui.qimage import qimage_to_rgb
from studio.ui.results_strip import ResultsStrip
from studio.ui.tool_options import BrushOptions
from studio.ui.welcome import WelcomePage
from studio.ui.worker import Backend, GeneratedResult, GenerateRequest, WorkerThread, thumbnail

log = logging.getLogger(__name__)
SAVE_DELAY_MS = 800
MAP_LAYER = "control-"  # a control map in an autosave: "control-<n>", n the unit's place in the ControlNet panel


class MainWindow(QMainWindow):
    job_ended = Signal(str)  # "finished", "failed" or "cancelled", once the window shows the outcome
    picture_opened = Signal(Path)

    def __init__(self, backend: Backend | None = None, settings_file: Path | None = None, preload_models: bool = True):
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings_file = settings_file
        self.settings: Settings = load_settings(settings_file)
        self.preload_models = preload_models
        self.document: LayeredDocument | None = None
        self._results_document: Document | None = None
        self._results_size: tuple[int, int] | None = None  # the picture's size the results were made at
        self._shown_once = False
        self.worker = WorkerThread(backend, self)
        self.pictures = PictureLoader(self)

        self._build_widgets()
        self.models = ModelsController(self.model_panel, self.settings, self.worker, self.show_message, self)
        self.jobs = JobController(self.worker, self.generate_button, self.progress, self.results, self._job_inputs,
                                  self.show_message, self._show_status, self)
        self.control_maps = ControlMapsController(self.recipe_panel.controls, self.canvas, self.worker,
                                                  lambda: self.document, self.show_message, self._show_status, self)
        self.jobs.keep_in = lambda: outputs_dir() if self.settings.keep_results else None
        self.batches = BatchController(self, self._job_inputs)
        self.autosave = DocumentAutosave(self._snapshot, parent=self)
        self.recovery_prompt = lambda saved_at: dialogs.ask_recovery(self, saved_at)  # tests answer it themselves
        self._recovery_offered = False
        self.commands = Commands(self)
        self.commands.install_menus()
        self.commands.install_toolbars(self.brush_options)
        self._connect()
        self._restore_settings()
        self.models.refresh()
        self._update_title()
        self._update_commands()

    # Building

    def _build_widgets(self) -> None:
        self.canvas = CanvasView()
        self.message_bar = MessageBar()
        self.results = ResultsStrip()
        self.welcome = WelcomePage()
        self.welcome.offer_starters(bool(bundled_starters()))
        self.editor = QWidget()
        editor_layout = QVBoxLayout(self.editor)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        editor_layout.setSpacing(0)
        editor_layout.addWidget(self.canvas, 1)
        editor_layout.addWidget(self.results)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.editor)
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.message_bar)
        central_layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self._build_job_dock()

        brush = _brush_from(self.settings.brush)
        self.brush_options = BrushOptions(brush, self.settings.overlay_opacity)
        self.canvas.set_brush(brush)
        self.canvas.set_overlay_opacity(self.settings.overlay_opacity)
        self.canvas.set_overlay_color(QColor(self.settings.overlay_color))

        self.zoom_label, self.size_label, self.position_label = QLabel(), QLabel(), QLabel()
        for label in (self.position_label, self.size_label, self.zoom_label):
            self.statusBar().addPermanentWidget(label)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)

    def _build_job_dock(self) -> None:
        self.model_panel = ModelPanel()
        self.recipe_panel = RecipePanel()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("Generate (Ctrl+Enter); while a job runs, cancel it (Esc)")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        side = QWidget()
        side.setObjectName("sidePanel")
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(QLabel("Model"))
        side_layout.addWidget(self.model_panel)
        side_layout.addWidget(self.recipe_panel, 1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 8)
        body_layout.addWidget(scroll, 1)
        body_layout.addWidget(self.progress)
        body_layout.addWidget(self.generate_button)
        self.dock = QDockWidget("Job")
        self.dock.setObjectName("jobDock")
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.dock.setWidget(body)
        scrollbar = scroll.verticalScrollBar().sizeHint().width()
        self.dock.setMinimumWidth(side.minimumSizeHint().width() + scrollbar + 8)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

    def _connect(self) -> None:
        self.canvas.edited.connect(lambda change: self._update_commands())
        self.canvas.edited.connect(lambda change: self._document_changed())
        self.canvas.zoom_changed.connect(lambda zoom: self.zoom_label.setText(f"{zoom * 100:.0f}%"))
        self.canvas.cursor_moved.connect(self._show_position)
        self.canvas.files_dropped.connect(self.open_dropped)
        self.canvas.image_dropped.connect(self.open_qimage)
        self.brush_options.brush_changed.connect(self._brush_from_options)
        self.brush_options.color_changed.connect(lambda color: setattr(self.canvas, "paint_color", color))
        self.canvas.color_picked.connect(self.brush_options.set_color)
        self.brush_options.overlay_opacity_changed.connect(self._overlay_opacity_changed)
        self.welcome.add_file_requested.connect(self.models.ask_add_checkpoint)
        self.welcome.add_folder_requested.connect(self.models.ask_add_folder)
        self.welcome.open_picture_requested.connect(self.ask_open_picture)
        self.welcome.use_starters_requested.connect(self.models.use_starters)
        self.models.changed.connect(self._models_changed)
        self.models.listed.connect(self.recipe_panel.set_models)
        self.recipe_panel.controls.add_model_requested.connect(self.models.ask_add_checkpoint)
        self.control_maps.edited.connect(self._update_commands)
        self.control_maps.edited.connect(self._document_changed)
        self.recipe_panel.upscale.add_model_requested.connect(self.models.ask_add_folder)
        self.recipe_panel.task.currentIndexChanged.connect(self._task_changed)
        self.models.loading.connect(self.jobs.model_loading)
        self.models.loading.connect(self._model_loading)
        self.recipe_panel.changed.connect(self._schedule_save)
        style = self.recipe_panel.style
        style.saved.connect(lambda name: self.show_message(f"Style {name} saved in {style.file}.", INFO))
        style.failed.connect(lambda text: self.show_message(text, ERROR))
        self.recipe_panel.changed.connect(self._document_changed)
        self.jobs.started.connect(self._job_started)
        self.jobs.results_ready.connect(self._results_ready)
        self.jobs.results_ready.connect(lambda results: self._document_changed())
        self.jobs.ended.connect(self._job_ended)
        self.results.selection_changed.connect(self._result_selected)
        self.results.apply_requested.connect(self.apply_result)
        self.results.export_requested.connect(self.ask_export_result)
        self.pictures.opened.connect(self._picture_opened)
        self.pictures.failed.connect(lambda path, message: self.show_message(message, ERROR))
        self.pictures.busy.connect(self._picture_busy)
        self._save_timer.timeout.connect(self.save_settings)
        self.autosave.failed.connect(lambda message: self.show_message(message, WARNING))
        self.setAcceptDrops(True)

    # Settings

    def _restore_settings(self) -> None:
        self.recipe_panel.restore(self.settings.panel)
        self._task_changed()
        self.resize(1440, 900)
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray(base64.b64decode(self.settings.window_geometry)))
        if self.settings.window_state:
            self.restoreState(QByteArray(base64.b64decode(self.settings.window_state)))

    def _schedule_save(self) -> None:
        self._save_timer.start()

    def save_settings(self) -> None:
        self._save_timer.stop()
        settings = self.settings
        settings.panel = self.recipe_panel.state()
        brush = self.canvas.brush
        settings.brush = {"size": brush.size, "hardness": brush.hardness, "opacity": brush.opacity}
        settings.overlay_opacity = self.canvas.overlay_item.opacity()
        settings.window_geometry = base64.b64encode(bytes(self.saveGeometry())).decode()
        settings.window_state = base64.b64encode(bytes(self.saveState())).decode()
        try:
            save_settings(settings, self.settings_file)
        except OSError as error:
            self.show_message(f"Could not save the settings: {error}", WARNING)

    # Messages and state

    def show_message(self, text: str, level: str = INFO) -> None:
        (log.info if level == INFO else log.warning)("%s", text)
        self.message_bar.show_message(text, level)

    def _show_status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms) if text else self.statusBar().clearMessage()

    def _show_position(self, x: int, y: int) -> None:
        inside = self.document is not None and 0 <= x < self.document.size[0] and 0 <= y < self.document.size[1]
        self.position_label.setText(f"{x}, {y}" if inside else "")

    def _update_title(self) -> None:
        name = None
        if self.document is not None:
            name = self.document.source.name if self.document.source else "Untitled (pasted)"
        self.setWindowTitle(f"{name} — Studio" if name else "Studio")
        self.size_label.setText(f"{self.document.size[0]} × {self.document.size[1]}" if self.document else "")
        self.recipe_panel.upscale.set_picture_size(self.document.size if self.document else None)

    def _update_commands(self) -> None:
        history = self.document.history if self.document is not None else None
        self.commands.undo.setEnabled(bool(history and history.can_undo))
        self.commands.redo.setEnabled(bool(history and history.can_redo))
        self.commands.undo.setText(f"&Undo {history.undo_label}" if history and history.can_undo else "&Undo")
        self.commands.redo.setText(f"&Redo {history.redo_label}" if history and history.can_redo else "&Redo")
        for command in (self.commands.invert_mask, self.commands.clear_mask, self.commands.fill_mask,
                        self.commands.expand_canvas):
            command.setEnabled(self.document is not None)
        self.commands.cancel.setEnabled(self.jobs.running)
        first_run = not self.models.any_listed and self.document is None
        self.pages.setCurrentWidget(self.welcome if first_run else self.editor)

    def _models_changed(self) -> None:
        self.recipe_panel.set_base_model(self.models.current)
        self._update_commands()
        self._schedule_save()
        self._document_changed()

    def _model_loading(self, loading: bool) -> None:
        self._show_status("Loading the model…" if loading else "", 0 if loading else 3000)

    # Pictures

    def ask_open_picture(self) -> None:
        path = dialogs.ask_picture(self, self.settings.last_picture_folder)
        if path is not None:
            self.open_picture(path)

    def open_picture(self, path: str | Path) -> bool:
        """Open a picture; a PNG made by Studio also brings back its recipe. On failure nothing changes.
        A large picture opens in the background: True then means it is on its way."""
        return self.pictures.open(path)

    def _picture_opened(self, picture: OpenedPicture) -> None:
        self.set_document(LayeredDocument(picture.pixels, source=picture.path))
        self.settings.last_picture_folder = str(picture.path.parent)
        self.settings.add_recent_picture(str(picture.path))
        if picture.metadata is not None:
            self._restore_recipe(picture.metadata.recipe, picture.path)
        elif picture.parameters:
            self.apply_parameters(picture.parameters, f"{picture.path.name}'s")
        self._schedule_save()
        self.picture_opened.emit(picture.path)

    def _picture_busy(self, busy: bool) -> None:
        self._show_status("Opening the picture…" if busy else "")
        self.setCursor(Qt.CursorShape.BusyCursor) if busy else self.unsetCursor()

    def open_qimage(self, image: QImage) -> bool:
        if image.isNull():
            self.show_message("The clipboard holds no picture Studio can read.", ERROR)
            return False
        self.set_document(LayeredDocument(qimage_to_rgb(image)))
        return True

    def paste_picture(self) -> None:
        data = QGuiApplication.clipboard().mimeData()
        paths = [Path(url.toLocalFile()) for url in data.urls() if url.isLocalFile()] if data else []
        if paths:
            self.open_picture(paths[0])
        elif data is not None and data.hasImage():
            self.open_qimage(QImage(data.imageData()))
        else:
            self.show_message("Nothing to paste: copy a picture or a picture file first.", WARNING)

    def set_keep_results(self, keep: bool) -> None:
        self.settings.keep_results = keep
        self.commands.keep_results.setChecked(keep)
        self._schedule_save()

    def open_outputs_folder(self) -> None:
        folder = outputs_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def open_dropped(self, paths: list[Path]) -> None:
        """Dropped files: models (.safetensors, .ckpt…: checkpoints, LoRAs, embeddings, ControlNets) are added to the
        models; the first picture among them opens."""
        models = [path for path in paths if Path(path).suffix.lower() in SAFE_SUFFIXES + PICKLE_SUFFIXES]
        for path in models:
            self.models.add_checkpoint(path)
        pictures = [path for path in paths if path not in models]
        if pictures:
            self.open_picture(pictures[0])

    def new_canvas(self, width: int, height: int) -> bool:
        """A blank picture, all masked, for Inpaint to paint from the prompt alone; True when it was made."""
        try:
            picture, mask = blank_canvas(width, height, max_picture_pixels())
        except CanvasError as error:
            self.show_message(str(error), ERROR)
            return False
        self.set_document(LayeredDocument(picture, mask=mask))
        choose_task(self.recipe_panel, "inpaint")
        self.show_message(f"New {width} × {height} canvas, all masked: describe the picture and Generate.", INFO)
        return True

    def paste_parameters(self) -> None:
        """AUTOMATIC1111's generation parameters from the clipboard (its PNG Info, Civitai's "Copy"), into the panels."""
        text = QGuiApplication.clipboard().text()
        if not self.apply_parameters(text, "the clipboard's"):
            self.show_message("The clipboard holds no generation parameters: copy AUTOMATIC1111's text (the prompt, "
                              "then \"Negative prompt: …\", then \"Steps: …, Sampler: …, CFG scale: …\").", WARNING)

    def apply_parameters(self, text: str, source: str) -> bool:
        """Fill the panels from an AUTOMATIC1111 `parameters` text; False when it holds none."""
        found = parse_parameters(text, self.recipe_panel.sampler_names())
        if found is None:
            return False
        self.recipe_panel.restore({**found.values, "style": ""})  # the text's prompts hold their style already
        notes = list(found.notes)
        if found.model_name:
            path = self.models.find_by_name(found.model_name)
            if path is not None:
                self.models.choose(path)
            else:
                notes.append(f"its model {found.model_name} is not among your models")
        read = [f"{name} {found.values[key]:g}" if isinstance(found.values[key], float) else f"{name} {found.values[key]}"
                for key, name in (("steps", "steps"), ("guidance", "CFG"), ("seed", "seed")) if key in found.values]
        summary = f"Settings read from {source} AUTOMATIC1111 parameters (prompt, {', '.join(read)})."
        self.show_message(" ".join([summary, *(note[0].upper() + note[1:] + "." for note in notes)]),
                          WARNING if notes else INFO)
        return True

    def set_document(self, document: Document | None) -> None:
        """Show a document; a plain Document gains layers (for control maps) and keeps its history."""
        self.canvas.end_stroke()
        self.document = LayeredDocument.adopt(document) if document is not None else None
        self.canvas.set_document(self.document)
        self.results.clear()
        self._set_results_source(None)
        self.control_maps.sync()
        self.control_maps.show_view()
        self._update_title()
        self._update_commands()
        self._document_changed()

    def dragEnterEvent(self, event) -> None:
        self.canvas.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        self.canvas.dropEvent(event)

    def _restore_recipe(self, recipe, path: Path) -> None:
        for model in [unit.model for unit in recipe.controlnets] + [recipe.model]:
            if Path(model).exists() and not self.models.is_listed(model):
                self.models.add_checkpoint(model, quiet=True)
        self.recipe_panel.show_recipe(recipe)
        model_here = Path(recipe.model).exists()
        if model_here and recipe.task != "upscale":
            self.models.choose(recipe.model)
        self.control_maps.restore(recipe)
        note = "" if model_here else f" (its model {Path(recipe.model).name} is not on this computer)"
        self.show_message(f"Recipe restored from {path.name}{note}.", WARNING if note else INFO)

    # Painting

    def set_erasing(self, erasing: bool) -> None:
        self.canvas.set_shape(None)
        self.canvas.set_painting_picture(False)
        self.canvas.set_erasing(erasing)
        (self.commands.eraser if erasing else self.commands.brush).setChecked(True)

    def set_colour_brush(self) -> None:
        """The colour brush: paint on the picture itself (a sketch that SDEdit or Inpaint then turns into detail)."""
        self.canvas.set_erasing(False)
        self.canvas.set_painting_picture(True)
        self.commands.colour_brush.setChecked(True)

    def set_shape_tool(self, shape: str) -> None:
        """The rectangle or lasso tool: a drag fills its shape in the mask (Alt-drag takes it out)."""
        self.canvas.set_erasing(False)
        self.canvas.set_shape(shape)
        {"rectangle": self.commands.rectangle, "lasso": self.commands.lasso}[shape].setChecked(True)

    def resize_brush(self, step) -> None:
        self._set_brush(self.canvas.brush.resized(step(self.canvas.brush.size)))

    def change_hardness(self, delta: float) -> None:
        hardness = min(1.0, max(0.0, round(self.canvas.brush.hardness + delta, 2)))
        self._set_brush(replace(self.canvas.brush, hardness=hardness))

    def _set_brush(self, brush: Brush) -> None:
        self.canvas.set_brush(brush)
        self.brush_options.set_brush(brush)
        self._schedule_save()

    def _brush_from_options(self, brush: Brush) -> None:
        self.canvas.set_brush(brush)
        self._schedule_save()

    def _overlay_opacity_changed(self, opacity: float) -> None:
        self.canvas.set_overlay_opacity(opacity)
        self._schedule_save()

    def set_mask_visible(self, visible: bool) -> None:
        self.canvas.overlay_item.setVisible(visible and not self.canvas.previewing)

    def _edit(self, operation) -> None:
        if self.document is None or self.canvas.stroking:
            return
        self.canvas.show_preview(None)
        self.set_mask_visible(self.commands.show_mask.isChecked())
        self.canvas.refresh(operation())
        self._edit_done()

    def _edit_done(self) -> None:
        """After anything that may have changed the document's size or its control maps."""
        self.control_maps.sync()
        self._update_title()
        self._update_commands()
        self._document_changed()

    def undo(self) -> None:
        self._edit(lambda: self.document.undo())

    def redo(self) -> None:
        self._edit(lambda: self.document.redo())

    def invert_mask(self) -> None:
        self._edit(lambda: self.document.invert_mask())

    def clear_mask(self) -> None:
        self._edit(lambda: self.document.clear_mask())

    def fill_mask(self) -> None:
        self._edit(lambda: self.document.fill_mask())

    def expand_canvas(self, left: int, top: int, right: int, bottom: int, overlap: int = OVERLAP) -> bool:
        """Add pixels around the picture (one undoable step); the new area is masked and the task becomes Inpaint,
        so Generate fills it (outpainting). True when the canvas grew; a refused expansion says why."""
        if self.document is None or self.canvas.stroking:
            return False
        try:
            self._edit(lambda: self.document.expand_canvas(left, top, right, bottom, overlap))
        except CanvasError as error:
            self.show_message(str(error), ERROR)
            return False
        choose_task(self.recipe_panel, "inpaint")
        width, height = self.document.size
        self.show_message(f"Canvas expanded to {width} × {height}: the new area is masked; Generate to fill it "
                          "(Ctrl+Z undoes).", INFO)
        return True

    # Jobs

    def generate(self) -> GenerateRequest | None:
        return self.jobs.generate()

    def _job_inputs(self) -> tuple:
        self.canvas.end_stroke()
        panel = self.recipe_panel
        task = panel.current_task
        model = panel.upscale.current_path if task == "upscale" else self.models.current
        units = panel.controls.choices() if panel.uses_controlnets else []
        return self.document, model, task, lambda: panel.recipe_values(next_seed=True), units

    def _task_changed(self) -> None:
        upscaling = self.recipe_panel.current_task == "upscale"
        self.model_panel.combo.setEnabled(not upscaling)
        self.model_panel.combo.setToolTip("Upscaling uses the upscaler chosen in the Upscale panel" if upscaling else "")
        self.control_maps.set_active(self.recipe_panel.current_task in TASKS_USING_CONTROLNETS)

    def _job_started(self, request: GenerateRequest) -> None:
        self._set_results_source(self.document)
        self.canvas.show_preview(None)
        self.message_bar.dismiss()
        self._update_commands()
        self._schedule_save()

    def _results_ready(self, results: list[GeneratedResult]) -> None:
        if results:
            self.results.select(0)

    def _job_ended(self, outcome: str) -> None:
        self._update_commands()
        self.job_ended.emit(outcome)

    # Results

    def show_results(self, results: list[GeneratedResult], made_from: Document | None) -> None:
        """Results made elsewhere (a batch's pictures) in the strip; Apply works when made from this document."""
        self._set_results_source(made_from)
        self.results.set_results(results)
        if results:
            self.results.select(0)
        self._document_changed()

    def _result_for(self, index: int) -> GeneratedResult | None:
        return self.results.results[index] if 0 <= index < len(self.results.results) else None

    def _set_results_source(self, document: Document | None) -> None:
        self._results_document = document
        self._results_size = document.size if document is not None else None

    @property
    def _results_fit(self) -> bool:
        """The results were made from this document at its present size (not before its canvas grew or an
        upscaled result was applied: those results no longer line up with it)."""
        return self.document is not None and self.document is self._results_document \
            and self.document.size == self._results_size

    def _result_selected(self, index: int) -> None:
        result = self._result_for(index)
        fits = result is not None and self._results_fit
        self.canvas.show_preview(result.pixels if fits else None)
        if not fits:
            self.set_mask_visible(self.commands.show_mask.isChecked())

    def apply_result(self, index: int) -> bool:
        result = self._result_for(index)
        if result is None or self.document is None:
            return False
        if self.document is not self._results_document:
            self.show_message("This result was made from another picture; export it instead.", WARNING)
            return False
        if not self._results_fit:
            self.show_message("This result was made before the picture changed size; export it, or undo the size "
                              "change to apply it.", WARNING)
            return False
        recipe = result.metadata.recipe
        enlarged = recipe.task == "upscale" or recipe.hires is not None
        resizing = result.pixels.shape != self.document.picture.shape and enlarged
        try:
            if resizing:  # the picture becomes the enlarged one; the mask and control maps are scaled with it
                label = "Apply upscaled result" if recipe.task == "upscale" else "Apply hires result"
                change = self.document.resize(result.pixels, label)
            else:
                change = self.document.apply_result(result.pixels, result.changed)
        except ValueError as error:
            self.show_message(str(error), ERROR)
            return False
        self.canvas.show_preview(None)
        self.set_mask_visible(self.commands.show_mask.isChecked())
        self.canvas.refresh(change)
        self._edit_done()
        self._show_status("Result applied (Ctrl+Z to undo)", 5000)
        return True

    def ask_export_result(self, index: int) -> None:
        result = self._result_for(index)
        if result is None:
            self.show_message("Select a result to export first.", WARNING)
            return
        recipe = result.metadata.recipe
        path = dialogs.ask_export_path(self, self.settings.last_export_folder, f"{recipe.task}-seed{recipe.seed}.png")
        if path is not None:
            self.export_result(index, path)

    def export_result(self, index: int, path: str | Path) -> Path | None:
        result = self._result_for(index)
        if result is None:
            return None
        try:
            written = write_png(path, result.pixels, result.metadata)
        except OSError as error:
            self.show_message(f"Could not export to {path}: {error}", ERROR)
            return None
        self.settings.last_export_folder = str(Path(path).parent)
        self._schedule_save()
        self._show_status(f"Exported {written.name}", 5000)
        return written

    # Window events

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(0, self._after_first_show)

    def _after_first_show(self) -> None:
        """Work that may wait until the window is on screen: the engine (and torch) load only now."""
        if self.document is not None:
            self.canvas.fit_to_window()
        self.offer_recovery()
        self.models.preload = self.preload_models
        if self.preload_models:
            self.models.load_chosen()

    def closeEvent(self, event) -> None:
        self.canvas.end_stroke()
        self.autosave.stop()
        self.save_settings()
        self.hide()  # gone from the screen at once, even if a model load must finish before the worker ends
        QApplication.processEvents()
        self.batches.cancel()
        self.worker.stop()
        self.pictures.wait()
        self.autosave.discard()  # a clean quit: nothing to offer back at the next launch
        self.autosave.release()
        super().closeEvent(event)

    # Autosave and recovery

    def _document_changed(self) -> None:
        """The picture, mask, maps, results or panels changed: an autosave follows after a quiet moment."""
        self.autosave.schedule()

    def _snapshot(self) -> Snapshot | None:
        """The open document as it is now (copies: the user keeps painting while it is written); None without one."""
        document = self.document
        if document is None:
            return None
        layers = {}
        for place, unit in enumerate(self.recipe_panel.controls.units, 1):
            pixels = document.layers.get(control_layer(unit.key))
            if pixels is not None:
                layers[f"{MAP_LAYER}{place}"] = pixels.copy()
        recipe = {**self.recipe_panel.state(), "model": self.models.current,
                  "picture_is_original": document.picture_is_original,
                  "results_fit": self._results_fit}
        results = [(result.pixels, result.metadata) for result in self.results.results]  # never changed in place
        source = str(document.source) if document.source is not None else None
        return Snapshot(document.picture.copy(), document.mask.copy(), layers, results, recipe, source)

    def offer_recovery(self) -> bool:
        """Once, when the window first shows: if the last Studio did not quit cleanly, offer its autosaved work back
        (Restore or Discard); then start autosaving. True when the work was restored."""
        if self._recovery_offered:
            return False
        self._recovery_offered = True
        restored = False
        if not self.autosave.claim():
            self.show_message("Another Studio window is open: autosave is on in that one only.", INFO)
            return False
        snapshot = self.autosave.load() if self.autosave.pending() else None
        if snapshot is not None:
            if self.recovery_prompt(snapshot.saved_at):
                restored = self._restore_snapshot(snapshot)
            if restored:
                self.autosave.dirty = False  # what is on screen is what is on disk
            else:
                self.autosave.discard()
        self.autosave.start()
        return restored

    def _restore_snapshot(self, snapshot: Snapshot) -> bool:
        recipe = dict(snapshot.recipe)
        try:
            self._list_models_of(recipe)
            self.recipe_panel.restore(recipe)
            self._task_changed()
            model = recipe.get("model")
            if isinstance(model, str) and self.models.is_listed(model) and model != self.models.current:
                self.models.choose(model)
            source = Path(snapshot.source) if snapshot.source else None
            document = LayeredDocument(np.array(snapshot.picture, np.uint8), source=source,
                                       mask=np.array(snapshot.mask, np.uint8))
            if not recipe.get("picture_is_original", True) or (source is not None and not source.is_file()):
                document.picture_revision = 1  # not the file's pixels (or no file): a job names a saved copy
            units = self.recipe_panel.controls.units
            for name, pixels in snapshot.layers.items():
                place = name[len(MAP_LAYER):] if name.startswith(MAP_LAYER) else ""
                if place.isdigit() and 1 <= int(place) <= len(units) and pixels.shape == document.picture.shape:
                    document.layers[control_layer(units[int(place) - 1].key)] = np.array(pixels, np.uint8)
            results = [GeneratedResult(np.array(pixels, np.uint8), meta, [],
                                       changed_box(document.picture, pixels) if pixels.shape == document.picture.shape else None,
                                       thumbnail(pixels))
                       for pixels, meta in snapshot.results if meta is not None]
        except (ValueError, TypeError, KeyError) as error:
            log.exception("restoring the autosave failed")
            self.show_message(f"Your autosaved work could not be restored ({error}).", ERROR)
            return False
        self.set_document(document)
        if results:
            self._set_results_source(document if recipe.get("results_fit", True) else None)
            self.results.set_results(results)
        self.show_message(f"Restored your work from {dialogs.saved_time(snapshot.saved_at)}.", INFO)
        return True

    def _list_models_of(self, recipe: dict) -> None:
        """The checkpoints an autosaved session used, listed again if the settings did not keep them (a crash can
        come before the settings are saved), so the panels can choose them."""
        units = (recipe.get("controlnet") or {}).get("units") if isinstance(recipe.get("controlnet"), dict) else None
        models = [unit.get("model") for unit in units or [] if isinstance(unit, dict)] + [recipe.get("model")]
        for model in models:
            if isinstance(model, str) and model and Path(model).is_file() and not self.models.is_listed(model):
                self.models.add_checkpoint(model, quiet=True)


def _brush_from(values: dict) -> Brush:
    """The remembered brush, each value brought into its range; defaults where a value is unusable."""
    default = Brush()
    try:
        size = float(values.get("size", default.size))
        hardness = float(values.get("hardness", default.hardness))
        opacity = float(values.get("opacity", default.opacity))
    except (TypeError, ValueError):
        return default
    return Brush(hardness=min(1.0, max(0.0, hardness)), opacity=min(1.0, max(0.01, opacity))).resized(size)

