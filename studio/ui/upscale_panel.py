"""The upscale options: the ×4 upscaler model, its noise level, and the tiles that keep memory flat whatever
the picture's size. Steps, guidance, prompt and seed are the sampling panel's."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox

from studio.core.recipe import Recipe
from studio.ui.fields import SliderField

SCALE = 4  # the diffusers ×4 upscaler


class UpscaleOptions(QGroupBox):
    changed = Signal()
    add_model_requested = Signal()

    def __init__(self, parent=None):
        super().__init__("Upscale ×4", parent)
        self.model = QComboBox()
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(10)
        self._wanted: str | None = None
        add_model = QPushButton("Add…")
        add_model.setToolTip("Add a ×4 upscaler: a diffusers folder (stabilityai/stable-diffusion-x4-upscaler layout)")
        self.noise_level = SliderField(0, 350, Recipe.noise_level, soft_maximum=100)
        self.noise_level.setToolTip("Noise added to the picture before upscaling: more invents more detail")
        self.tile_size = QSpinBox()
        self.tile_size.setRange(16, 4096)
        self.tile_size.setSingleStep(16)
        self.tile_size.setValue(Recipe.tile_size)
        self.tile_size.setSuffix(" px")
        self.tile_size.setToolTip("The upscaler works on tiles of this side (in pixels of the picture before ×4): "
                                  "smaller tiles use less memory; a smaller picture is one tile")
        self.tile_overlap = QSpinBox()
        self.tile_overlap.setRange(0, 2048)
        self.tile_overlap.setSingleStep(8)
        self.tile_overlap.setValue(Recipe.tile_overlap)
        self.tile_overlap.setSuffix(" px")
        self.tile_overlap.setToolTip("How much neighbouring tiles share, blended so no seam shows")
        self.result_size = QLabel()
        self.result_size.setObjectName("upscaleResultSize")
        form = QFormLayout(self)
        self.form = form
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(add_model)
        form.addRow("Upscaler", row)
        form.addRow("Noise level", self.noise_level)
        form.addRow("Tile size", self.tile_size)
        form.addRow("Tile overlap", self.tile_overlap)
        form.addRow(self.result_size)
        add_model.clicked.connect(self.add_model_requested)
        for signal in (self.model.currentIndexChanged, self.noise_level.valueChanged, self.tile_size.valueChanged,
                       self.tile_overlap.valueChanged):
            signal.connect(self.changed)
        self.set_picture_size(None)

    @property
    def current_path(self) -> str | None:
        return self.model.currentData()

    def set_models(self, models: list[tuple[str, str, str]]) -> None:
        """(name, path, description) of every upscaler listed; the choice is kept when it is still there."""
        current = self.model.currentData() or self._wanted
        self.model.blockSignals(True)
        self.model.clear()
        if not models:
            self.model.addItem("No upscaler yet: add one", None)
        for name, path, description in models:
            self.model.addItem(name, path)
            self.model.setItemData(self.model.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        index = self.model.findData(current) if current else -1
        self.model.setCurrentIndex(max(index, 0))
        self.model.blockSignals(False)
        if index >= 0:
            self._wanted = None

    def choose(self, path: str) -> bool:
        index = self.model.findData(path)
        if index >= 0:
            self.model.setCurrentIndex(index)
        return index >= 0

    def set_starter(self, starter: bool) -> None:
        """A starter upscaler has no noise-level input: the row goes while one is chosen."""
        self.form.setRowVisible(self.noise_level, not starter)

    def set_picture_size(self, size: tuple[int, int] | None) -> None:
        if size is None:
            self.result_size.setText(f"The result is {SCALE}× the picture.")
        else:
            width, height = size
            self.result_size.setText(f"{width} × {height} → {width * SCALE} × {height * SCALE}")

    def values(self) -> dict[str, Any]:
        return {"noise_level": self.noise_level.value(), "tile_size": self.tile_size.value(),
                "tile_overlap": self.tile_overlap.value()}

    def state(self) -> dict[str, Any]:
        return {**self.values(), "model": self.current_path}

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        for name, field_ in (("noise_level", self.noise_level), ("tile_size", self.tile_size),
                             ("tile_overlap", self.tile_overlap)):
            value = state.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                field_.setValue(int(value))
        if isinstance(state.get("model"), str) and not self.choose(state["model"]):
            self._wanted = state["model"]  # chosen once the models are listed
