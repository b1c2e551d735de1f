"""The hires fix options (AUTOMATIC1111's): a second pass that enlarges the generated picture and redraws it
with the same model, prompts and seed. Off by default; shown for the generating tasks of Stable Diffusion
models."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox

from studio.core.recipe import MAX_HIRES_FACTOR, HiresFix
from studio.ui.fields import SliderField


HIRES_TIP = ("Generate at the model's own size, then enlarge the whole result and redraw it (the picture grows when "
             "the result is applied)")


class HiresOptions(QGroupBox):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Hires fix", parent)
        self.setCheckable(True)
        self.setChecked(False)
        self.setToolTip(HIRES_TIP)
        self.factor = QDoubleSpinBox()
        self.factor.setRange(1.0, MAX_HIRES_FACTOR)
        self.factor.setSingleStep(0.25)
        self.factor.setDecimals(2)
        self.factor.setPrefix("×")
        self.factor.setValue(HiresFix.factor)
        self.factor.setToolTip("How much larger: enlarged with Lanczos, then redrawn in tiles of the model's size")
        self.strength = SliderField(0.0, 1.0, HiresFix.strength, decimals=2, step=0.05)
        self.strength.setToolTip("How much the second pass redraws: about 0.3 sharpens, 0.5 to 0.7 adds detail")
        self.steps = QSpinBox()
        self.steps.setRange(0, 1000)
        self.steps.setSpecialValueText("Same as Steps")
        self.steps.setValue(HiresFix.steps)
        form = QFormLayout(self)
        form.addRow("Factor", self.factor)
        form.addRow("Strength", self.strength)
        form.addRow("Steps", self.steps)
        for signal in (self.toggled, self.factor.valueChanged, self.strength.valueChanged, self.steps.valueChanged):
            signal.connect(self.changed)

    def values(self) -> dict[str, Any] | None:
        """The recipe's `hires` field: None when off."""
        if not self.isChecked():
            return None
        return {"factor": float(self.factor.value()), "strength": float(self.strength.value()),
                "steps": self.steps.value()}

    def state(self) -> dict[str, Any]:
        return {"use": self.isChecked(), "factor": float(self.factor.value()),
                "strength": float(self.strength.value()), "steps": self.steps.value()}

    def restore(self, state: Any) -> None:
        """Remembered or imported values; anything out of range or of the wrong type is skipped."""
        if not isinstance(state, dict):
            return
        for key, field, spin in (("factor", self.factor, self.factor), ("strength", self.strength, self.strength.spin),
                                 ("steps", self.steps, self.steps)):
            value = state.get(key)
            number = isinstance(value, int) if key == "steps" else isinstance(value, (int, float))
            if number and not isinstance(value, bool) and spin.minimum() <= value <= spin.maximum():
                field.setValue(value)
        if isinstance(state.get("use"), bool):
            self.setChecked(state["use"])
