"""The sweep fields of the batch dialog: one row per numeric axis (a list of values, or a range from–to–step)
and the sampler axis (the samplers to compare, ticked in a list)."""

from __future__ import annotations

import csv
import math
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QWidget,
)

from studio.core.errors import RecipeError
from studio.core.recipe import MAX_CLIP_SKIP, MAX_LORA_WEIGHT, MAX_SEED
from studio.core.sweeps import MAX_JOBS
from studio.plugins import builtins

NUMBER_AXES = {"seed": int, "guidance": float, "steps": int, "strength": float, "controlnet_scale": float,
               "lora_weight": float, "clip_skip": int, "hires_strength": float}
AXIS_LABELS = {"seed": "Seeds", "guidance": "Guidance", "steps": "Steps", "strength": "Strength",
               "sampler": "Sampler", "controlnet_scale": "ControlNet scale", "lora_weight": "LoRA weight",
               "clip_skip": "Clip skip", "prompt_sr": "Prompt S/R", "hires_strength": "Hires strength"}
AXIS_RANGES = {"seed": (0, MAX_SEED, 0, 1), "guidance": (0.0, 100.0, 2, 0.5), "steps": (1, 1000, 0, 1),
               "strength": (0.0, 1.0, 2, 0.05), "controlnet_scale": (0.0, 5.0, 2, 0.05),
               "lora_weight": (-MAX_LORA_WEIGHT, MAX_LORA_WEIGHT, 2, 0.05),
               "clip_skip": (1, MAX_CLIP_SKIP, 0, 1), "hires_strength": (0.0, 1.0, 2, 0.05)}  # min, max, decimals, step


def parse_values(axis: str, text: str) -> list:
    """'3, 5.5, 7' → the axis's values: whole numbers for seed and steps, decimals for the others."""
    tokens = [token for token in re.split(r"[,;\s]+", text.strip()) if token]
    if not tokens:
        raise RecipeError(f"sweep.{axis}", "give at least one value, separated by commas")
    values = []
    for token in tokens:
        try:
            number: Any = int(token)
        except ValueError:
            try:
                number = float(token)
            except ValueError:
                raise RecipeError(f"sweep.{axis}", f"{token!r} is not a number") from None
        values.append(float(number) if NUMBER_AXES[axis] is float else number)
    return values


def range_values(axis: str, start: float, stop: float, step: float) -> list:
    """From `start` to `stop` (included when the steps land on it) every `step`."""
    if step <= 0:
        raise RecipeError(f"sweep.{axis}", "the step must be more than 0")
    if stop < start:
        raise RecipeError(f"sweep.{axis}", f"'to' ({stop:g}) is below 'from' ({start:g})")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_JOBS:
        raise RecipeError(f"sweep.{axis}", f"{count} values; at most {MAX_JOBS}")
    values = [round(start + i * step, 10) for i in range(count)]
    return [int(round(v)) for v in values] if NUMBER_AXES[axis] is int else [float(v) for v in values]


def format_values(values: list) -> str:
    return ", ".join(str(value) for value in values)


def _number_box(axis: str) -> QDoubleSpinBox:
    minimum, maximum, decimals, step = AXIS_RANGES[axis]
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    return box


def show_invalid(widget: QWidget, invalid: bool) -> None:
    if widget.property("invalid") != invalid:
        widget.setProperty("invalid", invalid)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


class NumberAxis(QWidget):
    """One numeric sweep axis: off, a list of values, or a range from–to–step."""

    changed = Signal()

    def __init__(self, axis: str, parent=None):
        super().__init__(parent)
        self.axis = axis
        self.enabled = QCheckBox(AXIS_LABELS[axis])
        self.mode = QComboBox()
        self.mode.addItem("List", "list")
        self.mode.addItem("Range", "range")
        self.values = QLineEdit()
        self.values.setPlaceholderText("e.g. 3, 5.5, 7" if NUMBER_AXES[axis] is float else "e.g. 20, 30, 40")
        self.start, self.stop, self.step = _number_box(axis), _number_box(axis), _number_box(axis)
        self.step.setMinimum(0)
        range_row = QWidget()
        row = QHBoxLayout(range_row)
        row.setContentsMargins(0, 0, 0, 0)
        for text, box in (("from", self.start), ("to", self.stop), ("step", self.step)):
            row.addWidget(QLabel(text))
            row.addWidget(box, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.values)
        self.stack.addWidget(range_row)
        self.stack.setFixedHeight(self.values.sizeHint().height() + 4)
        self.enabled.toggled.connect(self._sync)
        self.mode.currentIndexChanged.connect(self._sync)
        for signal in (self.enabled.toggled, self.mode.currentIndexChanged, self.values.textChanged,
                       self.start.valueChanged, self.stop.valueChanged, self.step.valueChanged):
            signal.connect(self.changed)
        self._sync()

    def add_to(self, grid: QGridLayout, row: int) -> None:
        grid.addWidget(self.enabled, row, 0)
        grid.addWidget(self.mode, row, 1)
        grid.addWidget(self.stack, row, 2)

    def _sync(self) -> None:
        on = self.enabled.isChecked() and self.enabled.isEnabled()
        self.mode.setEnabled(on)
        self.stack.setEnabled(on)
        self.stack.setCurrentIndex(0 if self.mode.currentData() == "list" else 1)

    @property
    def active(self) -> bool:
        return self.enabled.isEnabled() and self.enabled.isChecked()

    def sweep_values(self) -> list:
        if self.mode.currentData() == "list":
            return parse_values(self.axis, self.values.text())
        return range_values(self.axis, self.start.value(), self.stop.value(), self.step.value())

    def set_range(self, start: float, stop: float, step: float) -> None:
        self.enabled.setChecked(True)
        self.mode.setCurrentIndex(1)
        self.start.setValue(start), self.stop.setValue(stop), self.step.setValue(step)

    def set_values(self, values: list | None) -> None:
        self.enabled.setChecked(bool(values))
        self.mode.setCurrentIndex(0)
        self.values.setText(format_values(values or []))

    def mark_invalid(self, invalid: bool) -> None:
        for widget in (self.values, self.start, self.stop, self.step):
            show_invalid(widget, invalid)


def parse_phrases(text: str) -> list[str]:
    """'cat, dog, "red, fox"' → the phrases (CSV, as AUTOMATIC1111's X/Y plot reads them)."""
    phrases = [phrase.strip() for phrase in next(csv.reader([text], skipinitialspace=True), [])]
    phrases = [phrase for phrase in phrases if phrase]
    if not phrases:
        raise RecipeError("sweep.prompt_sr", "give the phrase to search for, then its replacements, separated by commas")
    return phrases


def format_phrases(values: list) -> str:
    return ", ".join(f'"{v}"' if "," in v or '"' in v else v for v in (str(v).replace('"', '""') for v in values))


class PromptAxis(QWidget):
    """AUTOMATIC1111's Prompt S/R: the first phrase is searched for in the prompts; each replaces it in turn."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.axis = "prompt_sr"
        self.enabled = QCheckBox(AXIS_LABELS["prompt_sr"])
        self.values = QLineEdit()
        self.values.setPlaceholderText("e.g. cat, dog, red fox: the first is found in the prompt, each replaces it")
        self.values.setEnabled(False)
        self.enabled.toggled.connect(lambda on: self.values.setEnabled(on and self.enabled.isEnabled()))
        self.enabled.toggled.connect(self.changed)
        self.values.textChanged.connect(self.changed)

    def add_to(self, grid: QGridLayout, row: int) -> None:
        grid.addWidget(self.enabled, row, 0)
        grid.addWidget(self.values, row, 1, 1, 2)

    @property
    def active(self) -> bool:
        return self.enabled.isEnabled() and self.enabled.isChecked()

    def sweep_values(self) -> list[str]:
        return parse_phrases(self.values.text())

    def set_values(self, values: list | None) -> None:
        self.enabled.setChecked(bool(values))
        self.values.setText(format_phrases(values or []))

    def mark_invalid(self, invalid: bool) -> None:
        show_invalid(self.values, invalid)


class SamplerAxis(QWidget):
    """The sampler axis: the samplers to compare, ticked in a list."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.axis = "sampler"
        self.enabled = QCheckBox(AXIS_LABELS["sampler"])
        self.list = QListWidget()
        self.list.setMaximumHeight(110)
        for sampler in builtins.BUILTIN_SAMPLERS.values():
            item = QListWidgetItem(sampler.label)
            item.setData(Qt.ItemDataRole.UserRole, sampler.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.enabled.toggled.connect(lambda on: self.list.setEnabled(on))
        self.enabled.toggled.connect(self.changed)
        self.list.itemChanged.connect(lambda item: self.changed.emit())
        self.list.setEnabled(False)

    def add_to(self, grid: QGridLayout, row: int) -> None:
        grid.addWidget(self.enabled, row, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.list, row, 1, 1, 2)

    @property
    def active(self) -> bool:
        return self.enabled.isEnabled() and self.enabled.isChecked()

    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(row) for row in range(self.list.count())]

    def sweep_values(self) -> list[str]:
        checked = Qt.CheckState.Checked
        ticked = [item.data(Qt.ItemDataRole.UserRole) for item in self.items() if item.checkState() == checked]
        if not ticked:
            raise RecipeError("sweep.sampler", "tick at least one sampler")
        return ticked

    def set_values(self, values: list | None) -> None:
        self.enabled.setChecked(bool(values))
        for item in self.items():
            ticked = item.data(Qt.ItemDataRole.UserRole) in (values or [])
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def mark_invalid(self, invalid: bool) -> None:
        show_invalid(self.list, invalid)
