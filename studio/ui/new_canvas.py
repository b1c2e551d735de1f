"""File ▸ New canvas…: a blank picture of a chosen size, all masked, to generate a picture from the prompt alone
(Inpaint at strength 1 on it is text-to-image). Sizes in multiples of 8; the presets are the models' own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QWidget

from studio.core.canvas import CanvasError, check_canvas_size
from studio.core.images import max_picture_pixels

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

PRESETS = (  # label, width, height
    ("512 × 512 (SD 1.x)", 512, 512),
    ("768 × 768 (SD 2.x)", 768, 768),
    ("1024 × 1024 (SDXL)", 1024, 1024),
    ("832 × 1216 (SDXL portrait)", 832, 1216),
    ("1216 × 832 (SDXL landscape)", 1216, 832),
    ("512 × 768 (SD 1.x portrait)", 512, 768),
    ("768 × 512 (SD 1.x landscape)", 768, 512),
)
MOST = 16384


class NewCanvasDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, width: int = 512, height: int = 512):
        super().__init__(parent)
        self.setWindowTitle("New canvas")
        self.preset = QComboBox()
        self.preset.addItem("Custom", None)
        for label, w, h in PRESETS:
            self.preset.addItem(label, (w, h))
        self.width_field, self.height_field = self._side(width), self._side(height)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Size", self.preset)
        form.addRow("Width", self.width_field)
        form.addRow("Height", self.height_field)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.width_field.valueChanged.connect(self._update)
        self.height_field.valueChanged.connect(self._update)
        self._update()

    @staticmethod
    def _side(value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(8, MOST)
        spin.setSingleStep(64)
        spin.setSuffix(" px")
        spin.setValue(value)
        return spin

    def _preset_chosen(self) -> None:
        size = self.preset.currentData()
        if size is not None:
            self.width_field.setValue(size[0])
            self.height_field.setValue(size[1])

    def size(self) -> tuple[int, int]:
        return self.width_field.value(), self.height_field.value()

    def _update(self) -> None:
        index = next((i for i in range(1, self.preset.count()) if self.preset.itemData(i) == self.size()), 0)
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(index)
        self.preset.blockSignals(False)
        try:
            check_canvas_size(*self.size(), max_picture_pixels())
            self.problem.setText("All of it is masked: describe the picture and Generate (Inpaint).")
            ok = True
        except CanvasError as error:
            self.problem.setText(str(error)[0].upper() + str(error)[1:] + ".")
            ok = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)


def ask_new_canvas(window: "MainWindow") -> bool:
    """Ask the size, then start a new blank canvas; True when one was made."""
    dialog = NewCanvasDialog(window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    return window.new_canvas(*dialog.size())
