"""A plugin's parameters as a small form, built from its manifest (`studio.plugins.Parameter` specs):
a slider with a number field for float and int, a check box for bool, a list for choice. Ranges, steps,
defaults and tooltips come from the spec, so any sampler or guidance plugin gets its fields for free."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QWidget

from studio.ui.fields import SliderField

MAX_DECIMALS = 6


def _decimals(number: float | None) -> int:
    """Digits after the point that `number` needs (0.05 → 2, 1.003 → 3, 2.0 → 0)."""
    if number is None or not math.isfinite(number):
        return 0
    text = f"{abs(float(number)):.{MAX_DECIMALS}f}".rstrip("0")
    return len(text.partition(".")[2])


def _decimals_for(spec) -> int:
    """At least one decimal for a float, enough for its step and its default."""
    return min(MAX_DECIMALS, max(1, _decimals(spec.step), _decimals(spec.default)))


class ParameterForm(QWidget):
    """The fields of one plugin's parameters. `values()` gives them all, `changed_values()` only those that differ
    from the defaults (what a recipe keeps), `set_values()` shows a recipe's (the rest back to defaults)."""

    changed = Signal()

    def __init__(self, specs: Iterable = (), parent=None):
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(12, 0, 0, 0)
        self.specs: tuple = ()
        self.fields: dict[str, QWidget] = {}
        self.set_specs(specs)

    # Building

    def set_specs(self, specs: Iterable) -> None:
        """Rebuild the fields for other specs (another plugin chosen)."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self.specs = tuple(specs)
        self.fields = {}
        for spec in self.specs:
            field = self._field(spec)
            self.fields[spec.name] = field
            label = QLabel(spec.title)
            if spec.help:
                label.setToolTip(spec.help)
                field.setToolTip(spec.help)
            self._layout.addRow(label, field)
        self.setVisible(bool(self.specs))

    def _field(self, spec) -> QWidget:
        if spec.type == "bool":
            box = QCheckBox()
            box.setChecked(bool(spec.default))
            box.toggled.connect(self.changed)
            return box
        if spec.type == "choice":
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.setCurrentIndex(max(0, combo.findText(str(spec.default))))
            combo.currentIndexChanged.connect(self.changed)
            return combo
        if spec.type == "int":
            step = max(1, round(spec.step or 1))
            field = SliderField(int(spec.minimum), int(spec.maximum), int(spec.default), decimals=0, step=step)
        else:
            step = spec.step or (spec.maximum - spec.minimum) / 100 or 0.1
            field = SliderField(float(spec.minimum), float(spec.maximum), float(spec.default),
                                decimals=_decimals_for(spec), step=step)
        field.valueChanged.connect(self.changed)
        return field

    # Values

    def value(self, name: str) -> Any:
        spec = next(s for s in self.specs if s.name == name)
        field = self.fields[name]
        if spec.type == "bool":
            return field.isChecked()
        if spec.type == "choice":
            return field.currentText()
        if spec.type == "int":
            return int(field.value())
        return float(field.value())

    def values(self) -> dict[str, Any]:
        return {spec.name: self.value(spec.name) for spec in self.specs}

    def changed_values(self) -> dict[str, Any]:
        """Only the values that differ from the plugin's defaults."""
        changed = {}
        for spec in self.specs:
            value = self.value(spec.name)
            if spec.type == "float":
                if math.isclose(value, float(spec.default), rel_tol=0, abs_tol=0.5 * 10 ** -_decimals_for(spec)):
                    continue
            elif value == spec.default:
                continue
            changed[spec.name] = value
        return changed

    def reset(self) -> None:
        self.set_values({})

    def set_values(self, values: Mapping[str, Any] | None) -> list[str]:
        """Show `values` (unnamed parameters go back to their defaults). Returns the names that were skipped:
        unknown to this plugin, or of the wrong type or out of range."""
        values = dict(values or {})
        skipped = [name for name in values if name not in self.fields]
        self.blockSignals(True)
        try:
            for spec in self.specs:
                value = spec.default
                if spec.name in values:
                    try:
                        value = spec.check(values[spec.name])
                    except ValueError:
                        skipped.append(spec.name)
                self._show(spec, value)
        finally:
            self.blockSignals(False)
        self.changed.emit()
        return skipped

    def _show(self, spec, value: Any) -> None:
        field = self.fields[spec.name]
        if spec.type == "bool":
            field.setChecked(bool(value))
        elif spec.type == "choice":
            index = field.findText(str(value))
            if index >= 0:
                field.setCurrentIndex(index)
        else:
            field.setValue(value)
