"""Edit ▸ Expand canvas…: how many pixels to add on each side of the picture, to outpaint them with Inpaint.

The spin boxes sit around a box standing for the picture, as in Krita's and Photoshop's canvas-size dialogs.
Every change is checked by the core (studio.core.canvas) as it is typed, so Expand is only offered for an
expansion that can be made, and the dialog says why when it cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.canvas import OVERLAP, CanvasError, Margins, check_expansion
from studio.core.images import max_picture_pixels
from studio.core.regions import GRID

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

SIDES = ("left", "top", "right", "bottom")
MOST_PER_SIDE = 32768  # px; the picture-size limit usually stops an expansion first
PRESETS = (  # label, share of the picture's width (left, right) or height (top, bottom) added to each side
    ("+25% left and right", (0.25, 0.0, 0.25, 0.0)),
    ("+25% top and bottom", (0.0, 0.25, 0.0, 0.25)),
    ("+25% all sides", (0.25, 0.25, 0.25, 0.25)),
    ("Reset", (0.0, 0.0, 0.0, 0.0)),
)


def preset_margins(size: tuple[int, int], shares: tuple[float, float, float, float]) -> Margins:
    """Each side's share of the picture, in whole multiples of 8 px (at least 8 where the share is not 0), so the
    processing size of a whole-picture job keeps the picture's proportions."""
    def amount(share: float, side: int) -> int:
        return 0 if share <= 0 else max(GRID, round(share * side / GRID) * GRID)

    width, height = size
    left, top, right, bottom = shares
    return Margins(amount(left, width), amount(top, height), amount(right, width), amount(bottom, height))


class ExpandCanvasDialog(QDialog):
    def __init__(self, size: tuple[int, int], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Expand canvas")
        self.picture_size = size
        self.sides = {name: self._spin(0, MOST_PER_SIDE, 0, f"Pixels added at the {name}") for name in SIDES}
        for name, spin in self.sides.items():
            spin.setPrefix(f"{name.capitalize()} ")
        self.overlap = self._spin(0, 256, OVERLAP, "Pixels of the picture along each grown side that are masked too, "
                                                   "so the seam is repainted and blends in")
        self.result = QLabel()
        self.problem = QLabel()
        self.problem.setObjectName("expandProblem")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Expand")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.preset_buttons = [self._preset_button(label, shares) for label, shares in PRESETS]
        self._lay_out()
        self._update()

    def _spin(self, low: int, high: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(GRID)
        spin.setSuffix(" px")
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.valueChanged.connect(self._update)
        return spin

    def _preset_button(self, label: str, shares: tuple) -> QPushButton:
        button = QPushButton(label)
        button.setAutoDefault(False)
        button.clicked.connect(lambda: self.set_margins(preset_margins(self.picture_size, shares)))
        return button

    def _lay_out(self) -> None:
        picture = QLabel(f"Picture\n{self.picture_size[0]} × {self.picture_size[1]}")
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture.setFrameShape(QFrame.Shape.Box)
        picture.setMinimumSize(120, 72)
        around = QGridLayout()
        around.addWidget(self.sides["top"], 0, 1)
        around.addWidget(self.sides["left"], 1, 0)
        around.addWidget(picture, 1, 1)
        around.addWidget(self.sides["right"], 1, 2)
        around.addWidget(self.sides["bottom"], 2, 1)
        presets = QHBoxLayout()
        for button in self.preset_buttons:
            presets.addWidget(button)
        form = QFormLayout()
        form.addRow("Overlap", self.overlap)
        form.addRow("Result", self.result)
        layout = QVBoxLayout(self)
        layout.addLayout(around)
        layout.addLayout(presets)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

    def margins(self) -> Margins:
        return Margins(*(self.sides[name].value() for name in SIDES))

    def set_margins(self, margins: Margins) -> None:
        for name in SIDES:
            self.sides[name].setValue(getattr(margins, name))

    def _update(self) -> None:
        margins = self.margins()
        width, height = margins.expanded(self.picture_size)
        self.result.setText(f"{width} × {height} px")
        try:
            check_expansion(self.picture_size, margins, self.overlap.value(), max_picture_pixels())
            problem = ""
        except CanvasError as error:
            problem = str(error)
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)


def choose_task(panel, task: str) -> bool:
    """Switch the recipe panel's task selector to `task`, where it is offered; True when it now shows it."""
    row = panel.task.findData(task)
    if row >= 0 and panel.task.model().item(row).isEnabled():
        panel.task.setCurrentIndex(row)
    return panel.current_task == task


def ask_expand_canvas(window: "MainWindow") -> bool:
    """Ask how to expand the open picture, then expand it; True when it was."""
    if window.document is None:
        return False
    dialog = ExpandCanvasDialog(window.document.size, window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    margins = dialog.margins()
    return window.expand_canvas(margins.left, margins.top, margins.right, margins.bottom, dialog.overlap.value())
