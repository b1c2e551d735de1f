"""The comparison view: a batch's pictures side by side, laid out by the values that vary.

With two or more varying values (seed included), the last one runs along the columns and the others down the
rows (guidance × steps: a row per guidance, a column per steps); with one, the pictures wrap in a grid. Every
cell is labelled with its swept values and seed. The cells come from a running batch (filled in as pictures
are written) or from a finished folder's index.json.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.export import INDEX_JSON, check_pattern, recorded_batch
from studio.core.sweeps import expand
from studio.ui.qimage import rgb_to_qimage

THUMB = 176
LOADS_PER_TICK = 4
ONE_ROW_AT_MOST = 8  # a single varying value with more than this many values wraps
NOT_MADE, WAITING = "not made yet", "waiting…"


@dataclass
class Cell:
    index: int  # the job's index in the batch
    swept: dict  # its swept values and seed
    path: Path | None = None  # the picture, once written

    @property
    def label(self) -> str:
        return cell_label(self.swept)


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def cell_label(swept: dict) -> str:
    return " · ".join(f"{key} {_text(value)}" for key, value in swept.items())


@dataclass(frozen=True)
class Arrangement:
    rows: list[str]  # row headers ([] without headers)
    columns: list[str]  # column headers ([] without headers)
    positions: dict[int, tuple[int, int]]  # cell index → (row, column)


def arrange(cells: list[Cell]) -> Arrangement:
    """Rows and columns by the varying values; a wrapped grid when they do not make a full table."""
    keys = list(dict.fromkeys(key for cell in cells for key in cell.swept))
    varying = [key for key in keys if len({repr(cell.swept.get(key)) for cell in cells}) > 1]
    if len(varying) >= 2:
        table = _table(cells, varying[:-1], varying[-1])
        if table is not None:
            return table
    if len(varying) == 1 and len(cells) <= ONE_ROW_AT_MOST:
        table = _table(cells, [], varying[0])
        if table is not None:
            return table
    columns = max(1, min(len(cells), round(math.sqrt(len(cells)) * 1.3)))
    return Arrangement([], [], {cell.index: divmod(position, columns) for position, cell in enumerate(cells)})


def _table(cells: list[Cell], row_keys: list[str], column_key: str) -> Arrangement | None:
    rows: dict[tuple, int] = {}
    columns: dict[str, int] = {}
    positions = {}
    taken = set()
    for cell in cells:
        row_value = tuple(repr(cell.swept.get(key)) for key in row_keys)
        column_value = repr(cell.swept.get(column_key))
        row = rows.setdefault(row_value, len(rows))
        column = columns.setdefault(column_value, len(columns))
        if (row, column) in taken:
            return None  # two pictures would share a cell (e.g. swept seeds overlapping the variations)
        taken.add((row, column))
        positions[cell.index] = (row, column)
    first_in_row, first_in_column = {}, {}
    for cell in cells:
        first_in_row.setdefault(positions[cell.index][0], cell)
        first_in_column.setdefault(positions[cell.index][1], cell)
    row_headers = [cell_label({key: first_in_row[r].swept.get(key) for key in row_keys}) for r in range(len(rows))]
    column_headers = [cell_label({column_key: first_in_column[c].swept.get(column_key)}) for c in range(len(columns))]
    return Arrangement(row_headers if row_keys else [], column_headers, positions)


def cells_from_folder(folder: Path) -> list[Cell]:
    """A batch folder's pictures: every job of its batch.json (missing pictures as empty cells), or, for a
    folder with only an index, the rows of index.json. Raises StudioError when it is no batch folder."""
    folder = Path(folder)
    recorded = recorded_batch(folder)
    if recorded is not None:
        recipe, settings = recorded
        jobs = expand(recipe)
        names = check_pattern(settings, jobs)
        return [Cell(job.index, dict(job.swept), _existing(folder / names[job.index])) for job in jobs]
    try:
        rows = json.loads((folder / INDEX_JSON).read_text())
    except FileNotFoundError:
        raise StudioError(f"{folder} is not a batch folder (it has no {INDEX_JSON} or batch.json)") from None
    except (OSError, ValueError) as error:
        raise StudioError(f"cannot read {folder / INDEX_JSON}: {error}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) and "file" in row for row in rows):
        raise StudioError(f"{folder / INDEX_JSON} is not a batch index")
    return [Cell(int(row.get("index", position)), {k: v for k, v in row.items() if k not in ("file", "index")},
                 _existing(folder / str(row["file"]))) for position, row in enumerate(rows)]


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


class CellWidget(QFrame):
    clicked = Signal(int)

    def __init__(self, cell: Cell, parent=None):
        super().__init__(parent)
        self.cell = cell
        self.setObjectName("comparisonCell")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.picture = QLabel(NOT_MADE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedSize(THUMB, THUMB)
        self.caption = QLabel(cell.label)
        self.caption.setWordWrap(True)
        self.caption.setMaximumWidth(THUMB)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)
        self.setToolTip(cell.label)
        self.has_picture = False

    def show_pixmap(self, pixmap: QPixmap) -> None:
        self.picture.setPixmap(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        self.has_picture = True
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def show_missing(self, text: str) -> None:
        if not self.has_picture:
            self.picture.setText(text)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.cell.path is not None:
            self.clicked.emit(self.cell.index)
        super().mouseReleaseEvent(event)


class ComparisonView(QScrollArea):
    """The grid itself. Thumbnails of pictures on disk load a few at a time, so a big folder opens at once."""

    picture_chosen = Signal(Path)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.cells: dict[int, CellWidget] = {}
        self.arrangement = Arrangement([], [], {})
        self._to_load: list[int] = []
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._load_some)
        self.set_cells([])

    def set_cells(self, cells: list[Cell]) -> None:
        self._timer.stop()
        self.arrangement = arrange(cells)
        self.cells = {}
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setSpacing(6)
        offset_row = 1 if self.arrangement.columns else 0
        offset_column = 1 if self.arrangement.rows else 0
        for column, text in enumerate(self.arrangement.columns):
            grid.addWidget(_header(text), 0, column + offset_column, Qt.AlignmentFlag.AlignHCenter)
        for row, text in enumerate(self.arrangement.rows):
            grid.addWidget(_header(text), row + offset_row, 0, Qt.AlignmentFlag.AlignVCenter)
        for cell in cells:
            widget = CellWidget(cell)
            widget.clicked.connect(self._clicked)
            row, column = self.arrangement.positions[cell.index]
            grid.addWidget(widget, row + offset_row, column + offset_column)
            self.cells[cell.index] = widget
        grid.setRowStretch(grid.rowCount(), 1)
        grid.setColumnStretch(grid.columnCount(), 1)
        self.setWidget(grid_widget)
        self._to_load = [cell.index for cell in cells if cell.path is not None]
        if self._to_load:
            self._timer.start()

    def cell_at(self, row: int, column: int) -> CellWidget | None:
        for index, position in self.arrangement.positions.items():
            if position == (row, column):
                return self.cells[index]
        return None

    def set_picture(self, index: int, path: Path, pixels: np.ndarray | None = None) -> None:
        """A picture written by the running batch; its thumbnail comes along, so nothing is read back."""
        widget = self.cells.get(index)
        if widget is None:
            return
        widget.cell.path = Path(path)
        if pixels is not None:
            widget.show_pixmap(QPixmap.fromImage(rgb_to_qimage(pixels)))
        else:
            self._to_load.append(index)
            self._timer.start()

    @property
    def loading(self) -> bool:
        return bool(self._to_load)

    def _load_some(self) -> None:
        for index in self._to_load[:LOADS_PER_TICK]:
            widget = self.cells.get(index)
            if widget is not None and widget.cell.path is not None:
                reader = QImageReader(str(widget.cell.path))
                reader.setAutoTransform(True)
                size = reader.size()
                if size.isValid():
                    reader.setScaledSize(size.scaled(QSize(THUMB, THUMB), Qt.AspectRatioMode.KeepAspectRatio))
                image = reader.read()
                if image.isNull():
                    widget.show_missing("unreadable")
                else:
                    widget.show_pixmap(QPixmap.fromImage(image))
        del self._to_load[:LOADS_PER_TICK]
        if not self._to_load:
            self._timer.stop()

    def _clicked(self, index: int) -> None:
        path = self.cells[index].cell.path
        if path is not None:
            self.picture_chosen.emit(path)


def _header(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("comparisonHeader")
    label.setStyleSheet("font-weight: 600;")
    return label


class ComparisonWindow(QWidget):
    """A window around the view: which folder, overall progress and Cancel while a batch runs, Resume for an
    unfinished folder, and a button that opens the folder in the file manager."""

    cancel_requested = Signal()
    resume_requested = Signal(Path)
    picture_chosen = Signal(Path)

    def __init__(self, parent=None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("comparisonWindow")
        self.setWindowTitle("Batch")
        self.folder: Path | None = None
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setObjectName("batchStatus")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Make the pictures still missing from this folder")
        self.open_button = QPushButton("Open folder")
        self.view = ComparisonView()
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.status)
        header.addWidget(self.cancel_button)
        header.addWidget(self.resume_button)
        header.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        self.cancel_button.clicked.connect(self._cancel)
        self.resume_button.clicked.connect(lambda: self.folder is not None and self.resume_requested.emit(self.folder))
        self.open_button.clicked.connect(self.open_in_file_manager)
        self.view.picture_chosen.connect(self.picture_chosen)
        self.resize(1000, 720)
        self.set_running(False)

    def open_in_file_manager(self) -> None:
        if self.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))

    def show_folder(self, folder: Path, cells: list[Cell]) -> None:
        self.folder = Path(folder)
        self.title.setText(str(self.folder))
        self.setWindowTitle(f"{self.folder.name} — Batch")
        self.view.set_cells(cells)
        self._show_counts()

    @property
    def done(self) -> int:
        return sum(widget.cell.path is not None for widget in self.view.cells.values())

    def _show_counts(self) -> None:
        total = len(self.view.cells)
        self.progress.setValue(round(1000 * self.done / total) if total else 0)
        self.resume_button.setVisible(not self.running and 0 < total and self.done < total)
        if not self.running:
            self.status.setText(f"{self.done} of {total} pictures" if self.done < total else f"{total} pictures")

    def set_running(self, running: bool) -> None:
        self.running = running
        for widget in self.view.cells.values():
            widget.show_missing(WAITING if running else NOT_MADE)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.progress.setVisible(running)
        self._show_counts()

    def show_progress(self, progress) -> None:
        self.progress.setValue(round(progress.fraction * 1000))
        self.status.setText(f"Picture {progress.item + 1} of {progress.items} · step {progress.step}/{progress.total}")

    def add_picture(self, index: int, path: str, pixels=None) -> None:
        self.view.set_picture(index, Path(path), pixels)

    def ended(self, message: str) -> None:
        self.set_running(False)
        self.status.setText(f"{self.status.text()} · {message}")

    def _cancel(self) -> None:
        self.cancel_button.setText("Cancelling…")
        self.cancel_button.setEnabled(False)
        self.cancel_requested.emit()
