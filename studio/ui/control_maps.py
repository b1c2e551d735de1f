"""Control maps between the ControlNet panel, the worker and the canvas: "Make control map" runs the unit's
preprocessor in the worker, the map comes back as a layer of the document (undoable), shows over the picture, and
strokes go to it when the panel says so. The job builder then writes the map as shown for the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal

from studio.core.errors import StudioError
from studio.core.images import load_image
from studio.core.layers import LayeredDocument, control_layer, resized
from studio.ui.canvas import CanvasView
from studio.ui.control_panel import ControlPanel
from studio.ui.messages import ERROR, WARNING
from studio.ui.worker import ControlMapRequest, WorkerThread


class ControlMapsController(QObject):
    edited = Signal()  # a map was made or restored: an undoable step in the document

    def __init__(self, panel: ControlPanel, canvas: CanvasView, worker: WorkerThread,
                 document: Callable[[], LayeredDocument | None], show_message: Callable[[str, str], None],
                 show_status: Callable[..., None], parent: QObject | None = None):
        super().__init__(parent)
        self.panel = panel
        self.canvas = canvas
        self.worker = worker
        self.document = document
        self.show_message = show_message
        self.show_status = show_status
        self.active = True  # whether the task uses ControlNets (else no map shows and strokes go to the mask)
        self.in_progress: set[int] = set()  # units whose map the worker is making
        panel.view_changed.connect(self.show_view)
        panel.make_map_requested.connect(self.make)
        panel.changed.connect(self.sync)
        worker.worker.control_map_ready.connect(self._ready)
        worker.worker.control_map_failed.connect(self._failed)

    def make(self, key: int) -> bool:
        """Run the unit's preprocessor on the picture in the worker. Preprocessor 'none' starts the map from the
        picture itself, at once."""
        unit, document = self.panel.unit(key), self.document()
        if document is None or unit is None:
            self.show_message("Open a picture first: the control map is made from it.", WARNING)
            return False
        choice = unit.choice()
        request = ControlMapRequest(key, document.uid, document.picture.copy(), choice.preprocessor, choice.params)
        if choice.preprocessor == "none":
            self._ready(request, request.picture)
            return True
        self.in_progress.add(key)
        self.sync()
        self.show_status("Making the control map…")
        self.worker.make_control_map(request)
        return True

    def _ready(self, request: ControlMapRequest, pixels) -> None:
        self.in_progress.discard(request.key)
        self.show_status("")
        document = self.document()
        if self.panel.unit(request.key) is None:  # removed meanwhile
            self.sync()
            return
        if document is None or document.uid != request.document_uid or pixels.shape != document.picture.shape:
            self.sync()
            self.show_message("The picture changed while its control map was made: make it again.", WARNING)
            return
        self.canvas.show_preview(None)
        self.canvas.refresh(document.set_layer(control_layer(request.key), pixels, "Make control map"))
        self.sync()
        self.panel.show_map(request.key)
        self.edited.emit()

    def _failed(self, request: ControlMapRequest, message: str) -> None:
        self.in_progress.discard(request.key)
        self.show_status("")
        self.sync()
        self.show_message(f"Could not make the control map: {message}", ERROR)

    def sync(self) -> None:
        """Show in the panel which units have a map in the document (after an undo, a new picture…)."""
        document = self.document()
        self.panel.sync_maps(lambda key: document is not None and document.has_layer(control_layer(key)), self.in_progress)

    def set_active(self, active: bool) -> None:
        self.active = active
        self.show_view()

    def show_view(self) -> None:
        key, opacity, paint = self.panel.view()
        if not self.active:
            key, paint = None, False
        name = control_layer(key) if key is not None else None
        self.canvas.show_layer(name, opacity)
        self.canvas.set_paint_layer(name if paint else None)

    def restore(self, recipe) -> None:
        """The maps a recipe names (as they were painted) come back as layers, where still on disk."""
        document = self.document()
        if document is None:
            return
        for widget, unit in zip(self.panel.units, recipe.controlnets):
            if unit.preprocessor != "none" or not unit.image or not Path(unit.image).is_file():
                continue
            try:
                pixels = resized(load_image(unit.image), document.size)
            except StudioError:
                continue
            self.canvas.refresh(document.set_layer(control_layer(widget.key), pixels, "Restore control map"))
        self.sync()
        self.edited.emit()
