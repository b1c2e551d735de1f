"""The brush's options, Photoshop-style in a bar above the canvas: size, hardness, opacity, and how
strongly the mask overlay shows."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QHBoxLayout, QLabel, QToolButton, QWidget

from studio.core.brush import MAX_SIZE, MIN_SIZE, Brush
from studio.ui.fields import SliderField


def _labelled(text: str, field: QWidget, width: int) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(6, 0, 6, 0)
    layout.addWidget(QLabel(text))
    layout.addWidget(field)
    field.setFixedWidth(width)
    return box


class BrushOptions(QWidget):
    brush_changed = Signal(object)
    overlay_opacity_changed = Signal(float)
    color_changed = Signal(object)  # (r, g, b): the colour brush's colour

    def __init__(self, brush: Brush, overlay_opacity: float, parent=None):
        super().__init__(parent)
        self._brush = brush
        self.size = SliderField(MIN_SIZE, MAX_SIZE, brush.size, soft_maximum=500, suffix=" px")
        self.hardness = SliderField(0, 100, round(brush.hardness * 100), suffix=" %")
        self.opacity = SliderField(1, 100, round(brush.opacity * 100), suffix=" %")
        self.overlay = SliderField(0, 100, round(overlay_opacity * 100), suffix=" %")
        self.size.setToolTip("Brush size ([ and ])")
        self.hardness.setToolTip("Brush hardness ({ and })")
        self.opacity.setToolTip("Brush opacity: the most one stroke adds")
        self.overlay.setToolTip("How strongly the mask shows over the picture")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_labelled("Size", self.size, 200))
        layout.addWidget(_labelled("Hardness", self.hardness, 160))
        layout.addWidget(_labelled("Opacity", self.opacity, 160))
        layout.addWidget(_labelled("Mask overlay", self.overlay, 160))
        self.color = QToolButton()
        self.color.setToolTip("The colour brush's colour (P paints with it; Ctrl+click on the picture takes one)")
        self.color.clicked.connect(self.ask_color)
        layout.addWidget(_labelled("Colour", self.color, 32))
        self.set_color((220, 60, 50))
        layout.addStretch(1)
        for field in (self.size, self.hardness, self.opacity):
            field.valueChanged.connect(self._changed)
        self.overlay.valueChanged.connect(lambda value: self.overlay_opacity_changed.emit(value / 100))

    def set_color(self, color: tuple[int, int, int]) -> None:
        """Show the colour brush's colour (chosen here, or taken from the picture)."""
        self.current_color = tuple(color)
        self.color.setStyleSheet("QToolButton { background: rgb(%d, %d, %d); border: 1px solid #888; }" % color)

    def ask_color(self) -> None:
        chosen = QColorDialog.getColor(QColor(*self.current_color), self, "Colour brush")
        if chosen.isValid():
            self.set_color((chosen.red(), chosen.green(), chosen.blue()))
            self.color_changed.emit(self.current_color)

    @property
    def brush(self) -> Brush:
        return self._brush

    def set_brush(self, brush: Brush) -> None:
        """Show a brush changed elsewhere (the bracket keys) without echoing it back."""
        self._brush = brush
        for field, value in ((self.size, brush.size), (self.hardness, brush.hardness * 100), (self.opacity, brush.opacity * 100)):
            field.blockSignals(True)
            field.setValue(round(value))
            field.blockSignals(False)

    def _changed(self) -> None:
        self._brush = replace(
            self._brush, size=float(self.size.value()), hardness=self.hardness.value() / 100, opacity=self.opacity.value() / 100
        )
        self.brush_changed.emit(self._brush)
