"""The ControlNet units: each a ControlNet model, a preprocessor, and how strongly and over which part of the
schedule it steers; and its control map, made in the worker and shown over the picture as a layer to inspect
and paint on (the brush paints white, the eraser black) before generating."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.plugins.preprocessors import NO_WEIGHTS as PLUGIN_NO_WEIGHTS
from studio.plugins.preprocessors import PREPROCESSORS
from studio.ui.fields import SliderField

PREPROCESSOR_CHOICES = (("none", "None: the picture is the map"),) + tuple((p.id, p.label) for p in PREPROCESSORS.values())
NO_WEIGHTS = ("none", *PLUGIN_NO_WEIGHTS)  # the others read annotator files from a folder
DEFAULT_CANNY = (100, 200)
TOOLTIP = Qt.ItemDataRole.ToolTipRole


@dataclass(frozen=True)
class UnitChoice:
    """One unit as the panel shows it; the job builder turns it into a recipe's ControlUnit."""

    key: int  # names the unit's control-map layer in the document
    number: int  # 1-based, as shown
    model: str | None
    preprocessor: str = "canny"
    params: dict = field(default_factory=dict)
    scale: float = 1.0
    start: float = 0.0
    end: float = 1.0


def _fraction_field(value: float) -> SliderField:
    return SliderField(0.0, 1.0, value, decimals=2, step=0.05)


class ControlUnitWidget(QGroupBox):
    changed = Signal()
    view_toggled = Signal(int, str, bool)  # key, "show", "paint" or "opacity", checked
    make_map_requested = Signal(int)
    remove_requested = Signal(int)
    add_model_requested = Signal()

    def __init__(self, key: int, number: int, parent=None):
        super().__init__(parent)
        self.key = key
        self.model = QComboBox()
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(10)
        add_model = QPushButton("Add…")
        add_model.setToolTip("Add a ControlNet: a .safetensors file, or a diffusers folder with 'Add folder…'")
        self.preprocessor = QComboBox()
        for key_, label in PREPROCESSOR_CHOICES:
            self.preprocessor.addItem(label, key_)
            if key_ not in NO_WEIGHTS:
                self.preprocessor.setItemData(self.preprocessor.count() - 1,
                                              "Needs annotator weights in the annotators folder", TOOLTIP)
        self.preprocessor.setCurrentIndex(self.preprocessor.findData("canny"))
        self.low, self.high = QSpinBox(), QSpinBox()
        for spin, value in zip((self.low, self.high), DEFAULT_CANNY):
            spin.setRange(0, 255)
            spin.setValue(value)
        self.make_map = QPushButton("Make control map")
        self.make_map.setToolTip("Run the preprocessor on the picture and show the map, to check it and paint on it")
        self.map_status = QLabel()
        self.map_status.setWordWrap(True)
        self.map_status.setObjectName("mapStatus")
        self.show_map = QCheckBox("Show")
        self.paint_map = QCheckBox("Paint on map")
        self.paint_map.setToolTip("Strokes go to this map: the brush (B) paints white, the eraser (E) black; Ctrl+Z undoes")
        self.opacity = SliderField(0, 100, 70, suffix=" %")
        self.opacity.setToolTip("How strongly the map shows over the picture")
        self.scale = SliderField(0.0, 5.0, 1.0, decimals=2, step=0.05, soft_maximum=2.0)
        self.start, self.end = _fraction_field(0.0), _fraction_field(1.0)
        remove = QPushButton("Remove")

        form = QFormLayout(self)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(add_model)
        form.addRow("Model", model_row)
        form.addRow("Preprocessor", self.preprocessor)
        thresholds = QHBoxLayout()
        thresholds.addWidget(self.low)
        thresholds.addWidget(self.high)
        self.thresholds = QWidget()
        self.thresholds.setLayout(thresholds)
        thresholds.setContentsMargins(0, 0, 0, 0)
        form.addRow("Thresholds", self.thresholds)
        form.addRow(self.make_map)
        form.addRow(self.map_status)
        view = QHBoxLayout()
        view.addWidget(self.show_map)
        view.addWidget(self.opacity, 1)
        form.addRow("Map", view)
        form.addRow("", self.paint_map)
        form.addRow("Strength", self.scale)
        form.addRow("Start", self.start)
        form.addRow("End", self.end)
        form.addRow(remove)
        self.scale.setToolTip("ControlNet conditioning scale")
        self.start.setToolTip("Where in the schedule the ControlNet starts steering (0 = from the first step)")
        self.end.setToolTip("Where it stops steering (1 = to the last step)")
        self._form = form

        add_model.clicked.connect(self.add_model_requested)
        self.make_map.clicked.connect(lambda: self.make_map_requested.emit(self.key))
        remove.clicked.connect(lambda: self.remove_requested.emit(self.key))
        self.show_map.toggled.connect(lambda on: self.view_toggled.emit(self.key, "show", on))
        self.paint_map.toggled.connect(lambda on: self.view_toggled.emit(self.key, "paint", on))
        self.opacity.valueChanged.connect(lambda _: self.view_toggled.emit(self.key, "opacity", True))
        for signal in (self.model.currentIndexChanged, self.preprocessor.currentIndexChanged, self.low.valueChanged,
                       self.high.valueChanged, self.scale.valueChanged, self.start.valueChanged, self.end.valueChanged):
            signal.connect(self.changed)
        self.preprocessor.currentIndexChanged.connect(self._sync)
        self.set_number(number)
        self.set_map_state(False)
        self._sync()

    def set_number(self, number: int) -> None:
        self.number = number
        self.setTitle(f"ControlNet {number}")

    def _sync(self) -> None:
        self._form.setRowVisible(self.thresholds, self.preprocessor.currentData() == "canny")

    def set_models(self, models: list[tuple[str, str, str]]) -> None:
        """(name, path, description) of every ControlNet listed; the choice is kept when it is still there."""
        current = self.model.currentData()
        self.model.blockSignals(True)
        self.model.clear()
        if not models:
            self.model.addItem("No ControlNet yet: add one", None)
        for name, path, description in models:
            self.model.addItem(name, path)
            self.model.setItemData(self.model.count() - 1, description, TOOLTIP)
        index = self.model.findData(current) if current else -1
        self.model.setCurrentIndex(max(index, 0))
        self.model.blockSignals(False)
        if self.model.currentData() != current:
            self.changed.emit()

    def set_map_state(self, has_map: bool, busy: bool = False) -> None:
        self.has_map = has_map
        self.make_map.setEnabled(not busy)
        self.make_map.setText("Making the map…" if busy else ("Make again" if has_map else "Make control map"))
        for widget in (self.show_map, self.paint_map, self.opacity):
            widget.setEnabled(has_map)
        if has_map:
            self.map_status.setText("Generate uses this map as it is shown, with your painting.")
        else:
            self.map_status.setText("No map yet: Generate runs the preprocessor on the picture.")
            for box in (self.show_map, self.paint_map):
                box.setChecked(False)

    def params(self) -> dict:
        if self.preprocessor.currentData() == "canny":
            return {"low_threshold": self.low.value(), "high_threshold": self.high.value()}
        return {}

    def choice(self) -> UnitChoice:
        return UnitChoice(self.key, self.number, self.model.currentData(), self.preprocessor.currentData(),
                          self.params(), float(self.scale.value()), float(self.start.value()), float(self.end.value()))

    def state(self) -> dict[str, Any]:
        choice = self.choice()
        return {"model": choice.model, "preprocessor": choice.preprocessor, "params": choice.params,
                "scale": choice.scale, "start": choice.start, "end": choice.end}

    def restore(self, state: dict[str, Any]) -> None:
        """Show remembered values; anything unusable is skipped."""
        model = state.get("model")
        if isinstance(model, str):
            if self.model.findData(model) < 0:  # not listed (any more): shown, so the recipe is complete
                self.model.addItem(f"{model.rsplit('/', 1)[-1]} (not listed)", model)
            self.model.setCurrentIndex(self.model.findData(model))
        index = self.preprocessor.findData(state.get("preprocessor"))
        if index >= 0:
            self.preprocessor.setCurrentIndex(index)
        params = state.get("params") if isinstance(state.get("params"), dict) else {}
        for spin, name in ((self.low, "low_threshold"), (self.high, "high_threshold")):
            if isinstance(params.get(name), (int, float)):
                spin.setValue(int(params[name]))
        for field_, name in ((self.scale, "scale"), (self.start, "start"), (self.end, "end")):
            if isinstance(state.get(name), (int, float)) and not isinstance(state.get(name), bool):
                field_.setValue(float(state[name]))


class ControlPanel(QGroupBox):
    """The ControlNet units of the next job. For inpaint and SDEdit they are optional (the group's check box);
    the ControlNet task always uses them."""

    changed = Signal()
    view_changed = Signal()  # which map shows, how strongly, and whether strokes go to it
    make_map_requested = Signal(int)
    add_model_requested = Signal()

    def __init__(self, parent=None):
        super().__init__("ControlNet", parent)
        self.units: list[ControlUnitWidget] = []
        self._keys = itertools.count(1)
        self._models: list[tuple[str, str, str]] = []
        self._used_optionally = False
        self._required = True
        self.shown_key: int | None = None
        self.painting = False
        self._units_layout = QVBoxLayout()
        self._units_layout.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton("Add ControlNet")
        layout = QVBoxLayout(self)
        layout.addLayout(self._units_layout)
        layout.addWidget(self.add_button)
        self.add_button.clicked.connect(lambda: self.add_unit())
        self.toggled.connect(self._use_toggled)

    # Units

    def add_unit(self, state: dict[str, Any] | None = None) -> ControlUnitWidget:
        unit = ControlUnitWidget(next(self._keys), len(self.units) + 1)
        unit.set_models(self._models)
        if state:
            unit.restore(state)
        unit.changed.connect(self.changed)
        unit.view_toggled.connect(self._view_toggled)
        unit.make_map_requested.connect(self.make_map_requested)
        unit.remove_requested.connect(self.remove_unit)
        unit.add_model_requested.connect(self.add_model_requested)
        self.units.append(unit)
        self._units_layout.addWidget(unit)
        self.changed.emit()
        return unit

    def remove_unit(self, key: int) -> None:
        unit = self.unit(key)
        if unit is None:
            return
        self.units.remove(unit)
        unit.setParent(None)
        unit.deleteLater()
        for number, other in enumerate(self.units, 1):
            other.set_number(number)
        if self.shown_key == key:
            self.shown_key, self.painting = None, False
            self.view_changed.emit()
        self.changed.emit()

    def clear_units(self) -> None:
        for unit in list(self.units):
            self.remove_unit(unit.key)

    def unit(self, key: int) -> ControlUnitWidget | None:
        return next((unit for unit in self.units if unit.key == key), None)

    def set_models(self, models: list[tuple[str, str, str]]) -> None:
        self._models = list(models)
        for unit in self.units:
            unit.set_models(self._models)

    # Use

    def set_required(self, required: bool) -> None:
        """Required (the ControlNet task): always on, with one unit to start. Otherwise a check box turns it on."""
        self._required = required
        self.blockSignals(True)
        self.setCheckable(not required)
        if not required:
            self.setChecked(self._used_optionally)
        self.blockSignals(False)
        if required and not self.units:
            self.add_unit()
        self.view_changed.emit()

    def _use_toggled(self, on: bool) -> None:
        self._used_optionally = on
        if on and not self.units:
            self.add_unit()
        self.changed.emit()
        self.view_changed.emit()

    @property
    def in_use(self) -> bool:
        return self._required or self.isChecked()

    def choices(self) -> list[UnitChoice]:
        return [unit.choice() for unit in self.units] if self.in_use else []

    # The map on the canvas

    def _view_toggled(self, key: int, what: str, on: bool) -> None:
        unit = self.unit(key)
        if what == "show":
            if on:
                self.shown_key = key
                for other in self.units:
                    if other is not unit:
                        _set_quietly(other.show_map, False)
                        _set_quietly(other.paint_map, False)
            elif self.shown_key == key:
                self.shown_key, self.painting = None, False
                _set_quietly(unit.paint_map, False)
        elif what == "paint":
            if on:
                _set_quietly(unit.show_map, True)
                self.shown_key, self.painting = key, True
                for other in self.units:
                    if other is not unit:
                        _set_quietly(other.show_map, False)
                        _set_quietly(other.paint_map, False)
            elif self.shown_key == key:
                self.painting = False
        self.view_changed.emit()

    def view(self) -> tuple[int | None, float, bool]:
        """(key of the map shown or None, its opacity, whether strokes go to it)."""
        if not self.in_use or self.shown_key is None or self.unit(self.shown_key) is None:
            return None, 0.0, False
        return self.shown_key, self.unit(self.shown_key).opacity.value() / 100, self.painting

    def show_map(self, key: int, paint: bool = False) -> None:
        unit = self.unit(key)
        if unit is not None and unit.has_map:
            (unit.paint_map if paint else unit.show_map).setChecked(True)

    def sync_maps(self, has_map, busy: set[int] = frozenset()) -> None:
        """Show which units have a map in the document (`has_map(key)`), and which are being made."""
        for unit in self.units:
            had = unit.has_map
            unit.set_map_state(bool(has_map(unit.key)), unit.key in busy)
            if had and not unit.has_map and self.shown_key == unit.key:
                self.shown_key, self.painting = None, False
                self.view_changed.emit()

    # Remembering

    def state(self) -> dict[str, Any]:
        return {"use": self._used_optionally, "units": [unit.state() for unit in self.units]}

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        units = state.get("units")
        if isinstance(units, list):
            self.clear_units()
            for unit in units:
                if isinstance(unit, dict):
                    self.add_unit(unit)
        if isinstance(state.get("use"), bool):
            self._used_optionally = state["use"]
            if self.isCheckable():
                self.blockSignals(True)
                self.setChecked(self._used_optionally)
                self.blockSignals(False)
        if self._required and not self.units:
            self.add_unit()


def _set_quietly(box: QCheckBox, on: bool) -> None:
    box.blockSignals(True)
    box.setChecked(on)
    box.blockSignals(False)
