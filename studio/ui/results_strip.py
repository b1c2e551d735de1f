"""The results of the current job: a live preview while it runs, then one thumbnail per variation.
Selecting a result shows it on the canvas; Apply puts it on the picture as an undoable step."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from studio.ui.qimage import rgb_to_qimage
from studio.ui.worker import GeneratedResult, JobProgress

THUMB = 112


class ResultsStrip(QWidget):
    selection_changed = Signal(int)  # -1: none
    apply_requested = Signal(int)
    export_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("resultsStrip")
        self.results: list[GeneratedResult] = []
        self.preview = QLabel("No results yet")
        self.preview.setObjectName("livePreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setFixedSize(THUMB + 16, THUMB + 16)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setFixedHeight(THUMB + 40)
        self.list.setSpacing(4)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Put the selected result on the picture (undo with Ctrl+Z)")
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save the selected result as a PNG with its recipe")
        self.info = QLabel()
        self.info.setObjectName("resultInfo")
        self.info.setWordWrap(True)
        buttons = QVBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.info)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.preview)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.apply_requested.emit(self.list.row(item)))
        self.apply_button.clicked.connect(lambda: self.apply_requested.emit(self.selected))
        self.export_button.clicked.connect(lambda: self.export_requested.emit(self.selected))
        self._row_changed(-1)

    @property
    def selected(self) -> int:
        return self.list.currentRow()

    def clear(self) -> None:
        self.results = []
        self.list.clear()
        self.preview.setPixmap(QPixmap())
        self.preview.setText("No results yet")

    def begin_job(self) -> None:
        self.clear()
        self.preview.setText("Starting…")

    def show_progress(self, progress: JobProgress) -> None:
        if progress.preview is not None:
            self._show_in_preview(progress.preview)
        elif not self.preview.pixmap().isNull():
            return  # a step's preview stays until the next one (tiles report in between, without one)
        elif progress.tiles > 1:
            self.preview.setText(f"Step {progress.step}/{progress.total}\ntile {progress.tile}/{progress.tiles}")
        else:
            self.preview.setText(f"Step {progress.step}/{progress.total}")

    def _show_in_preview(self, pixels) -> None:
        pixmap = QPixmap.fromImage(rgb_to_qimage(pixels))
        self.preview.setPixmap(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))

    def end_job(self, message: str) -> None:
        if not self.results:
            self.preview.setPixmap(QPixmap())
            self.preview.setText(message)

    def set_results(self, results: list[GeneratedResult]) -> None:
        self.results = list(results)
        self.list.clear()
        for index, result in enumerate(self.results):
            icon = QIcon(QPixmap.fromImage(rgb_to_qimage(result.thumbnail)))
            item = QListWidgetItem(icon, f"seed {result.metadata.recipe.seed}")
            kept = [f"Kept as {result.kept}"] if result.kept else []
            item.setToolTip("\n".join([f"Variation {index + 1}, seed {result.metadata.recipe.seed}", *kept,
                                       *result.notices]))
            self.list.addItem(item)
        self._row_changed(self.selected)

    def select(self, index: int) -> None:
        self.list.setCurrentRow(index)

    def _row_changed(self, row: int) -> None:
        valid = 0 <= row < len(self.results)
        self.apply_button.setEnabled(valid)
        self.export_button.setEnabled(valid)
        if valid:
            result = self.results[row]
            recipe = result.metadata.recipe
            height, width = result.pixels.shape[:2]
            self.info.setText(f"seed {recipe.seed} · {recipe.steps} steps · {recipe.sampler} · {width} × {height}")
            self._show_in_preview(self.results[row].thumbnail)
        else:
            self.info.setText("")
        self.selection_changed.emit(row if valid else -1)
