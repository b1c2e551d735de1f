"""The upscale options: the upscale model (a ×4 upscaler, or any Stable Diffusion checkpoint, which redraws a
Lanczos enlargement at the sampling panel's strength), the ×4 upscaler's noise level or the checkpoint's factor,
and the tiles that keep memory flat whatever the picture's size. Steps, guidance, prompt and seed are the
sampling panel's."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox,
)

from studio.core.images import upscaled_size
from studio.core.recipe import DEFAULT_UPSCALE_FACTOR, Recipe
from studio.ui.fields import SliderField

SCALE = 4  # the diffusers ×4 upscaler


class UpscaleOptions(QGroupBox):
    changed = Signal()
    add_model_requested = Signal()

    def __init__(self, parent=None):
        super().__init__("Upscale", parent)
        self._sd_paths: set[str] = set()  # the models listed that are Stable Diffusion checkpoints
        self._starter = False  # a starter upscaler is chosen
        self.model = QComboBox()
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(10)
        self._wanted: str | None = None
        self._chosen = False  # the person picked the model (else the first listed is taken: a ×4 upscaler first)
        add_model = QPushButton("Add…")
        add_model.setToolTip("Add a ×4 upscaler: a diffusers folder (stabilityai/stable-diffusion-x4-upscaler layout)")
        self.factor = QDoubleSpinBox()
        self.factor.setRange(1.0, 8.0)
        self.factor.setSingleStep(0.5)
        self.factor.setDecimals(2)
        self.factor.setValue(DEFAULT_UPSCALE_FACTOR)
        self.factor.setPrefix("×")
        self.factor.setToolTip("How much larger: the picture is enlarged with Lanczos, then the checkpoint redraws "
                               "its detail at the Strength of the Sampling group (about 0.3 keeps it faithful)")
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
        form.addRow("Factor", self.factor)
        form.addRow("Noise level", self.noise_level)
        form.addRow("Tile size", self.tile_size)
        form.addRow("Tile overlap", self.tile_overlap)
        form.addRow(self.result_size)
        add_model.clicked.connect(self.add_model_requested)
        for signal in (self.model.currentIndexChanged, self.noise_level.valueChanged, self.tile_size.valueChanged,
                       self.tile_overlap.valueChanged, self.factor.valueChanged):
            signal.connect(self.changed)
        self.changed.connect(self._show_kind)
        self.model.activated.connect(lambda _: setattr(self, "_chosen", True))
        self._picture_size: tuple[int, int] | None = None
        self._show_kind()

    @property
    def current_path(self) -> str | None:
        return self.model.currentData()

    @property
    def uses_checkpoint(self) -> bool:
        """A Stable Diffusion checkpoint is chosen: it takes the strength, factor, LoRAs and clip skip."""
        return self.current_path in self._sd_paths

    def set_models(self, models: list[tuple[str, str, str]], checkpoints: list[tuple[str, str, str]] = ()) -> None:
        """(name, path, description) of every upscaler listed, then of the Stable Diffusion checkpoints (which
        upscale too); the choice is kept when it is still there."""
        self._sd_paths = {path for _, path, _ in checkpoints}
        models = list(models) + [(name, path, f"{description} · redraws a Lanczos enlargement")
                                 for name, path, description in checkpoints]
        current = (self.model.currentData() if self._chosen else None) or self._wanted
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
        self._show_kind()

    def choose(self, path: str) -> bool:
        index = self.model.findData(path)
        if index >= 0:
            self.model.setCurrentIndex(index)
            self._chosen = True
        return index >= 0

    def set_starter(self, starter: bool) -> None:
        """A starter upscaler has no noise-level input: the row goes while one is chosen."""
        self._starter = starter
        self._show_kind()

    def set_picture_size(self, size: tuple[int, int] | None) -> None:
        self._picture_size = size
        self._show_result_size()

    def _show_kind(self) -> None:
        checkpoint = self.uses_checkpoint
        self.form.setRowVisible(self.factor, checkpoint)
        self.form.setRowVisible(self.noise_level, not checkpoint and not self._starter)
        self.form.setRowVisible(self.tile_size, not checkpoint)  # a checkpoint's tiles are its native size
        self._show_result_size()

    def _show_result_size(self) -> None:
        factor = self.factor.value() if self.uses_checkpoint else SCALE
        if self._picture_size is None:
            self.result_size.setText(f"The result is {factor:g}× the picture.")
        else:
            width, height = self._picture_size
            result = upscaled_size(width, height, factor) if self.uses_checkpoint else (width * SCALE, height * SCALE)
            self.result_size.setText(f"{width} × {height} → {result[0]} × {result[1]}")

    def values(self) -> dict[str, Any]:
        values = {"noise_level": self.noise_level.value(), "tile_size": self.tile_size.value(),
                  "tile_overlap": self.tile_overlap.value()}
        if self.uses_checkpoint:
            values["upscale_factor"] = float(self.factor.value())
        return values

    def state(self) -> dict[str, Any]:
        return {**self.values(), "upscale_factor": float(self.factor.value()), "model": self.current_path}

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        for name, field_ in (("noise_level", self.noise_level), ("tile_size", self.tile_size),
                             ("tile_overlap", self.tile_overlap)):
            value = state.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                field_.setValue(int(value))
        factor = state.get("upscale_factor")
        if isinstance(factor, (int, float)) and not isinstance(factor, bool) and 1.0 <= factor <= 8.0:
            self.factor.setValue(float(factor))
        if isinstance(state.get("model"), str) and not self.choose(state["model"]):
            self._wanted = state["model"]  # chosen once the models are listed
