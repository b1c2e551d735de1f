"""The job panels: the task selector, then the prompts, sampling, the LoRAs, and each task's own options (mask for
inpaint and SDEdit, ControlNet units for inpaint, SDEdit and ControlNet, the upscaler's for upscale). They hold the
recipe's values; the window adds the model and the input paths when it builds the recipe for a job."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio import plugins
from studio.core.a1111_params import SamplerName
from studio.core.embedding_words import apply_embedding_words
from studio.core.lora_tags import apply_lora_tags, files_by_name, strip_lora_tags
from studio.core.recipe import HIRES_TASKS, MAX_CLIP_SKIP, TASKS, Recipe
from studio.plugins import builtins
from studio.ui.control_panel import ControlPanel
from studio.ui.fields import SeedField, SliderField
from studio.ui.hires_options import HIRES_TIP, HiresOptions
from studio.ui.lora_panel import LoraPanel
from studio.ui.model_panel import describe
from studio.ui.plugin_params import ParameterForm
from studio.ui.prompt_completer import PromptCompleter
from studio.ui.style_picker import StylePicker
from studio.ui.upscale_panel import UpscaleOptions

TASK_LABELS = {"inpaint": "Inpaint", "sdedit": "Image to image (SDEdit)", "controlnet": "ControlNet", "upscale": "Upscale"}
TASKS_NEEDING_MASK = ("inpaint",)  # the mask is required
TASKS_USING_MASK = ("inpaint", "sdedit")  # a painted mask is used when there is one
TASKS_USING_CONTROLNETS = ("inpaint", "sdedit", "controlnet")
TASKS_USING_STRENGTH = ("inpaint", "sdedit")
TASKS_USING_LORAS = ("inpaint", "sdedit", "controlnet")  # the ×4 upscaler is no SD 1.x/2.x/SDXL model
UI_READY_TASKS = TASKS  # tasks whose inputs the window knows how to give
PROMPT_HINTS = {
    "inpaint": "Describe what to paint in the masked area",
    "sdedit": "Describe the picture as it should become",
    "controlnet": "Describe the picture to generate",
    "upscale": "Describe the picture: it guides the detail the upscaler adds",
}
PROMPT_SYNTAX = ("(word) or (word:1.3) stresses a word, [word] softens it, BREAK starts a new 75-token chunk, "
                 "<lora:name:0.8> switches on the LoRA file name.safetensors (from a models folder or the LoRAs panel), and "
                 "an embedding's file name written as a word (easynegative) calls that embedding")
AREA_LABELS = {"whole": "Whole picture", "masked": "Only masked"}
MASKED_CONTENT_LABELS = {"original": "Original", "fill": "Fill from surroundings"}
STARTER_TASKS = ("inpaint", "sdedit", "upscale")  # what Studio's starter models do
UPSCALE_CONTROL_TIP = ("Each tile of the upscale is steered by its own part of the maps. A tile ControlNet with the "
                       "preprocessor 'none' (the picture itself) keeps a strong redraw faithful to the picture.")
STARTER_NOTE = ("<b>Starter models ignore prompts.</b> They fill, repaint and upscale from the picture alone, with "
                "their own sampler: the prompt, guidance and sampler settings do not apply.")
STARTER_CANNOT = "<b>ControlNet needs a Stable Diffusion model.</b> The starter model does inpaint, SDEdit and upscale."
DEFAULT_GUIDANCE = {"cfg": "Classifier-free guidance (CFG)"}


def available_tasks() -> list[str]:
    """The tasks the engine has a module for, found without importing it (and torch with it)."""
    found = []
    for task in TASKS:
        try:
            present = importlib.util.find_spec(f"studio.engine.{task}") is not None
        except (ImportError, ValueError):
            present = False
        if present and task in UI_READY_TASKS:
            found.append(task)
    return found or ["inpaint"]


def sampler_choices() -> list[tuple[str, str]]:
    """(id, label) of every usable sampler the plugin registry offers (built-ins first)."""
    try:
        return plugins.sampler_choices() or _builtin_samplers()
    except plugins.PluginError:
        return _builtin_samplers()


def guidance_choices() -> list[tuple[str, str]]:
    """(id, label) of the usable guidance types: the registry's, else the built-in ones."""
    try:
        return plugins.guidance_choices() or _builtin_guidance()
    except plugins.PluginError:
        return _builtin_guidance()


def _builtin_samplers() -> list[tuple[str, str]]:
    return [(sampler.id, sampler.label) for sampler in builtins.BUILTIN_SAMPLERS.values()]


def _builtin_guidance() -> list[tuple[str, str]]:
    table = getattr(builtins, "BUILTIN_GUIDANCE", None) or DEFAULT_GUIDANCE
    return [(key, getattr(value, "label", value)) for key, value in table.items()]


def parameter_specs(kind: str, name: str | None) -> tuple:
    """The plugin's parameter specs; none when it is unknown, disabled or unusable."""
    if not name:
        return ()
    try:
        return plugins.parameter_specs(kind, name)
    except plugins.PluginError:
        return ()


def plugin_missing_note(kind: str, name: str, fallback: str) -> str:
    """Why a recipe's sampler or guidance type cannot be shown, for the message bar."""
    what = "sampler" if kind == "sampler" else "guidance type"
    try:
        info = plugins.default_registry().find(name, kind)
    except plugins.PluginError:
        info = None
    if info is None:
        why = "is not installed (Edit → Plugins… installs plugins)"
    elif not info.enabled:
        why = "is disabled (Edit → Plugins… enables it)"
    else:
        why = f"cannot be used ({info.status})"
    return f"The recipe's {what} '{name}' {why}: using {fallback} instead."


def _prompt_box(placeholder: str, lines: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setFixedHeight(12 + lines * box.fontMetrics().lineSpacing())
    return box


def _combo(choices: list[tuple[str, str]]) -> QComboBox:
    combo = QComboBox()
    for key, label in choices:
        combo.addItem(label, key)
    return combo


def _select(combo: QComboBox, key: Any) -> bool:
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)
    return index >= 0


class RecipePanel(QWidget):
    changed = Signal()
    notice = Signal(str)  # something the person should know (a recipe's plugin that is not here)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.task = _combo([(t, TASK_LABELS[t]) for t in TASKS])
        self._enable_tasks(available_tasks())
        self.prompt = _prompt_box(PROMPT_HINTS["inpaint"], 4)
        self.prompt.setToolTip(PROMPT_SYNTAX)
        self.negative_prompt = _prompt_box("What to avoid (negative prompt)", 2)
        self.style = StylePicker()
        self.completers = [PromptCompleter(box) for box in (self.prompt, self.negative_prompt)]
        self.sampler = _combo(sampler_choices())
        self.guidance_type = _combo(guidance_choices())
        self.sampler_params = ParameterForm()
        self.guidance_params = ParameterForm()
        self.recipe_notes: list[str] = []  # what show_recipe could not restore (a plugin that is not here)
        self.steps = SliderField(1, 1000, 30, soft_maximum=100)
        self.guidance = SliderField(0.0, 100.0, 7.5, decimals=1, step=0.5, soft_maximum=20.0)
        self.strength = SliderField(0.0, 1.0, 1.0, decimals=2, step=0.05)
        self.clip_skip = QSpinBox()  # AUTOMATIC1111's "Clip skip": 1 is off, 2 is common for anime SD 1.x models
        self.clip_skip.setRange(1, MAX_CLIP_SKIP)
        self.clip_skip.setValue(Recipe.clip_skip)
        self.tiling = QCheckBox("Seamless")
        self.tiling.setToolTip("Tiling: the picture's right edge continues its left and its bottom its top, so copies "
                               "of it tile without a seam (textures, patterns)")
        self.seed = SeedField()
        self.variations = QSpinBox()
        self.variations.setRange(1, 64)
        self.custom_size = QCheckBox("Custom")
        self.width_field, self.height_field = QSpinBox(), QSpinBox()
        for field in (self.width_field, self.height_field):
            field.setRange(64, 8192)
            field.setSingleStep(64)
            field.setValue(512)
        self.mask_grow = SliderField(-256, 256, 0, soft_maximum=64, suffix=" px")
        self.mask_grow.slider.setMinimum(-64)
        self.mask_feather = SliderField(0.0, 256.0, 4.0, decimals=1, step=1.0, soft_maximum=64.0, suffix=" px")
        self.inpaint_area = _combo(list(AREA_LABELS.items()))
        self.masked_content = _combo(list(MASKED_CONTENT_LABELS.items()))
        self.mask_padding = SliderField(0, 4096, 32, soft_maximum=256, suffix=" px")
        self.controls = ControlPanel()
        self.loras = LoraPanel()
        self.upscale = UpscaleOptions()
        self.hires = HiresOptions()
        self.starter_note = QLabel()
        self.starter_note.setObjectName("starterNote")
        self.starter_note.setWordWrap(True)
        self._starter_paths: set[str] = set()  # models listed that are Studio's starter models
        self._embedding_paths: list[str] = []  # embeddings listed: their names in a prompt call them
        self._recipe_embeddings: list[str] = []  # those of the last recipe shown, wherever they are
        self._base_model: str | None = None
        self._lay_out()
        self._connect()
        _select(self.sampler, Recipe.sampler)
        self._show_sampler_params()
        self._show_guidance_params()
        self._sync_enabled()
        self._show_task()

    def _lay_out(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.task)
        layout.addWidget(self.starter_note)
        layout.addWidget(self.prompt)
        layout.addWidget(self.negative_prompt)
        layout.addWidget(self.style)
        layout.addWidget(self.upscale)

        sampling = QGroupBox("Sampling")
        form = QFormLayout(sampling)
        self.sampling_form = form
        form.addRow("Sampler", self.sampler)
        form.addRow(self.sampler_params)
        form.addRow("Guidance type", self.guidance_type)
        form.addRow(self.guidance_params)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Clip skip", self.clip_skip)
        form.addRow("Strength", self.strength)
        form.addRow("Tiling", self.tiling)
        form.addRow("Seed", self.seed)
        form.addRow("Variations", self.variations)
        size_row = QHBoxLayout()
        size_row.addWidget(self.custom_size)
        size_row.addWidget(self.width_field)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_field)
        self.size_row = QWidget()
        self.size_row.setLayout(size_row)
        size_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Size", self.size_row)
        layout.addWidget(sampling)
        layout.addWidget(self.hires)
        layout.addWidget(self.loras)

        self.mask_group = QGroupBox("Mask")
        form = QFormLayout(self.mask_group)
        form.addRow("Grow", self.mask_grow)
        form.addRow("Feather", self.mask_feather)
        form.addRow("Area", self.inpaint_area)
        form.addRow("Padding", self.mask_padding)
        form.addRow("Masked content", self.masked_content)
        layout.addWidget(self.mask_group)
        layout.addWidget(self.controls)
        layout.addStretch(1)
        self.custom_size.setToolTip("Process at this size; unchecked, the model's native size is used")
        self.clip_skip.setToolTip("AUTOMATIC1111's clip skip: take the prompt from the N-th last layer of the text "
                                  "encoder (1: the last, as usual; 2: common for anime Stable Diffusion 1.x models)")
        self.inpaint_area.setToolTip("Only masked: work on the mask's box plus padding, at the model's resolution")
        self.masked_content.setToolTip("Fill from surroundings: paint the masked part from around it before the model "
                                       "starts, so a strength below 1 removes an object instead of keeping its shape")

    def _connect(self) -> None:
        for signal in (
            self.task.currentIndexChanged, self.prompt.textChanged, self.negative_prompt.textChanged,
            self.sampler.currentIndexChanged, self.guidance_type.currentIndexChanged, self.steps.valueChanged,
            self.guidance.valueChanged, self.clip_skip.valueChanged, self.strength.valueChanged, self.seed.changed,
            self.variations.valueChanged,
            self.custom_size.toggled, self.width_field.valueChanged, self.height_field.valueChanged,
            self.mask_grow.valueChanged, self.mask_feather.valueChanged, self.inpaint_area.currentIndexChanged,
            self.mask_padding.valueChanged, self.masked_content.currentIndexChanged, self.controls.changed,
            self.upscale.changed, self.sampler_params.changed, self.guidance_params.changed, self.loras.changed,
            self.style.changed, self.hires.changed, self.tiling.toggled,
        ):
            signal.connect(self.changed)
        self.sampler.currentIndexChanged.connect(self._show_sampler_params)
        self.guidance_type.currentIndexChanged.connect(self._show_guidance_params)
        self.changed.connect(self._sync_enabled)
        self.task.currentIndexChanged.connect(self._show_task)
        self.upscale.changed.connect(self._show_task)  # a checkpoint as the upscaler takes more fields
        self.loras.changed.connect(self._offer_names)
        self.style.save_button.clicked.connect(
            lambda: self.style.ask_save(self.prompt.toPlainText(), self.negative_prompt.toPlainText()))

    def _enable_tasks(self, enabled: list[str]) -> None:
        model = self.task.model()
        for row in range(self.task.count()):
            ready = self.task.itemData(row) in enabled
            model.item(row).setEnabled(ready)
            if not ready:
                self.task.setItemText(row, f"{TASK_LABELS[self.task.itemData(row)]} (coming soon)")

    def _sync_enabled(self) -> None:
        self.hires.setEnabled(not self.tiling.isChecked())  # a second pass in tiles would break the seams
        self.hires.setToolTip("Not with seamless tiling" if self.tiling.isChecked() else HIRES_TIP)
        self.width_field.setEnabled(self.custom_size.isChecked())
        self.height_field.setEnabled(self.custom_size.isChecked())
        self.mask_padding.setEnabled(self.inpaint_area.currentData() == "masked")

    def _show_task(self) -> None:
        """Each task's panel behind the selector: only the options the task uses are shown."""
        task = self.current_task
        upscaling = task == "upscale"
        self.upscale.setVisible(upscaling)
        self.mask_group.setVisible(task in TASKS_USING_MASK)
        self.controls.setVisible(task in TASKS_USING_CONTROLNETS)
        self.controls.set_required(task == "controlnet")
        self.controls.setToolTip(UPSCALE_CONTROL_TIP if upscaling else "")
        self.sampling_form.setRowVisible(self.strength, self.uses_strength)
        self.sampling_form.setRowVisible(self.sampler_params, bool(self.sampler_params.specs))
        self.sampling_form.setRowVisible(self.guidance_params, bool(self.guidance_params.specs))
        self.sampling_form.setRowVisible(self.size_row, not upscaling)  # its result is 4× the picture
        self.sampling_form.setRowVisible(self.clip_skip, not upscaling or self.sd_upscale)  # the ×4 upscaler has none
        self.sampling_form.setRowVisible(self.tiling, task in HIRES_TASKS)
        optional = task == "sdedit"
        self.mask_group.setTitle("Mask (optional)" if optional else "Mask")
        self.mask_group.setToolTip("Without a painted mask, SDEdit changes the whole picture" if optional else "")
        self._show_starter_note()

    # Studio's starter models

    def set_base_model(self, path: str | None) -> None:
        """The chosen base model, to say so when it is a starter model (they ignore prompts)."""
        self._base_model = path
        self._show_starter_note()

    @property
    def starter_in_use(self) -> bool:
        """Whether the current task would run on a starter model."""
        task = self.current_task
        model = self.upscale.current_path if task == "upscale" else self._base_model
        return model in self._starter_paths

    @property
    def uses_controlnets(self) -> bool:
        """Whether a job takes the ControlNet units: the tasks that use them, on a Stable Diffusion model (an
        upscale too when a checkpoint redraws it, tile by tile)."""
        task = self.current_task
        return task == "controlnet" or (task in TASKS_USING_CONTROLNETS and not self.starter_in_use) or self.sd_upscale

    @property
    def sd_upscale(self) -> bool:
        """Upscaling with a Stable Diffusion checkpoint (not a ×4 upscaler)."""
        return self.current_task == "upscale" and self.upscale.uses_checkpoint

    @property
    def uses_strength(self) -> bool:
        return self.current_task in TASKS_USING_STRENGTH or self.sd_upscale

    @property
    def uses_loras(self) -> bool:
        """Whether a job takes the LoRAs: the tasks of Stable Diffusion models (not the starter models)."""
        return (self.current_task in TASKS_USING_LORAS or self.sd_upscale) and not self.starter_in_use

    @property
    def uses_clip_skip(self) -> bool:
        """Whether a job takes the clip skip: the tasks of Stable Diffusion models (not the upscalers, not the
        starter models)."""
        return (self.current_task != "upscale" or self.sd_upscale) and not self.starter_in_use

    @property
    def uses_hires(self) -> bool:
        """Whether a job takes the hires fix and tiling: the generating tasks of Stable Diffusion models."""
        return self.current_task in HIRES_TASKS and not self.starter_in_use

    def _show_starter_note(self) -> None:
        starter = self.starter_in_use
        runs = starter and self.current_task in STARTER_TASKS
        self.starter_note.setText(STARTER_NOTE if runs else STARTER_CANNOT)
        self.starter_note.setVisible(starter)
        for widget in (self.prompt, self.negative_prompt, self.sampler, self.guidance_type, self.guidance,
                       self.clip_skip, self.sampler_params, self.guidance_params, self.tiling):
            widget.setEnabled(not runs)
        self.prompt.setPlaceholderText("Starter models ignore prompts" if runs else PROMPT_HINTS.get(self.current_task, ""))
        self.controls.setVisible(self.uses_controlnets)
        self.loras.setVisible(self.uses_loras)
        self.hires.setVisible(self.uses_hires)
        self.upscale.set_starter(runs and self.current_task == "upscale")

    def _offer_names(self) -> None:
        """The LoRA and embedding names the prompt boxes complete."""
        loras = [Path(path).stem for path in self.loras.known_paths()]
        embeddings = [Path(path).stem for path in self._recipe_embeddings + self._embedding_paths]
        for completer in self.completers:
            completer.set_names(loras, embeddings)

    def set_models(self, entries) -> None:
        """Fill the ControlNet and upscaler choices from the listed models (core.checkpoints.CheckpointInfo)."""
        def listed(kind: str) -> list[tuple[str, str, str]]:
            return [(e.name, str(e.path), describe(e)) for e in entries if e.kind == kind and not e.problem]

        self._starter_paths = {str(e.path) for e in entries if e.starter}
        self._embedding_paths = [str(e.path) for e in entries if e.kind == "embedding" and not e.problem]
        self.controls.set_models(listed("controlnet"))
        self.loras.set_models(listed("lora"))
        self._offer_names()
        checkpoints = [(e.name, str(e.path), describe(e)) for e in entries
                       if e.kind == "pipeline" and not e.problem and not e.starter]
        self.upscale.set_models(listed("upscaler"), checkpoints)
        self._show_task()

    def _select_task(self, task: str) -> None:
        row = self.task.findData(task)
        if row >= 0 and self.task.model().item(row).isEnabled():
            self.task.setCurrentIndex(row)

    @property
    def current_task(self) -> str:
        return self.task.currentData()

    # Sampler and guidance plugins

    def _show_sampler_params(self) -> None:
        """The chosen sampler's own fields, at their defaults."""
        self.sampler_params.set_specs(parameter_specs("sampler", self.sampler.currentData()))
        self._show_task()

    def _show_guidance_params(self) -> None:
        self.guidance_params.set_specs(parameter_specs("guidance", self.guidance_type.currentData()))
        self._show_task()

    def sampler_names(self) -> list[SamplerName]:
        """The samplers offered, for reading AUTOMATIC1111's sampler names."""
        return [SamplerName(key, self.sampler.itemText(row),
                            any(spec.name == "karras" for spec in parameter_specs("sampler", key)))
                for row in range(self.sampler.count()) if (key := self.sampler.itemData(row))]

    def reload_plugins(self) -> None:
        """Fill the sampler and guidance lists again (a plugin was installed, enabled, disabled or removed):
        the choice and its values stay when the plugin is still usable, else the default comes back."""
        for combo, choices, form, kind, default in (
            (self.sampler, sampler_choices(), self.sampler_params, "sampler", Recipe.sampler),
            (self.guidance_type, guidance_choices(), self.guidance_params, "guidance", Recipe.guidance_type),
        ):
            current, values = combo.currentData(), form.values()
            combo.blockSignals(True)
            combo.clear()
            for key, label in choices:
                combo.addItem(label, key)
            kept = _select(combo, current)
            if not kept and not _select(combo, default):
                combo.setCurrentIndex(0)
            combo.blockSignals(False)
            form.set_specs(parameter_specs(kind, combo.currentData()))
            if kept:
                form.set_values(values)
        self._show_task()
        self.changed.emit()

    # The recipe's values

    def recipe_values(self, next_seed: bool = False) -> dict[str, Any]:
        """Recipe fields as the panels show them. `next_seed` draws a new seed unless it is locked."""
        task = self.current_task
        custom = self.custom_size.isChecked() and task != "upscale"
        values = {
            "task": task,
            "prompt": self.prompt.toPlainText(),
            "negative_prompt": self.negative_prompt.toPlainText(),
            "steps": self.steps.value(),
            "guidance": float(self.guidance.value()),
            "seed": self.seed.seed_for_next_job() if next_seed else self.seed.seed,
            "sampler": self.sampler.currentData(),
            "sampler_params": self.sampler_params.changed_values(),
            "variations": self.variations.value(),
            "width": _multiple_of_8(self.width_field.value()) if custom else None,
            "height": _multiple_of_8(self.height_field.value()) if custom else None,
        }
        if self.uses_strength:
            values["strength"] = float(self.strength.value())
        values["guidance_type"] = self.guidance_type.currentData()
        values["guidance_params"] = self.guidance_params.changed_values()
        if task in TASKS_USING_MASK:
            values.update(
                mask_grow=self.mask_grow.value(),
                mask_feather=float(self.mask_feather.value()),
                inpaint_area=self.inpaint_area.currentData(),
                mask_padding=self.mask_padding.value(),
                masked_content=self.masked_content.currentData(),
            )
        if task == "upscale":
            values.update(self.upscale.values())
        if self.uses_clip_skip:
            values["clip_skip"] = self.clip_skip.value()
        if self.uses_hires:
            values["tiling"] = self.tiling.isChecked()
            values["hires"] = None if values["tiling"] else self.hires.values()
        if self.starter_in_use:
            return strip_lora_tags(values)  # a starter model reads no prompt
        values = self.style.apply(values)  # a style may hold LoRA tags and embedding names too
        values = apply_embedding_words(values, files_by_name(self._recipe_embeddings + self._embedding_paths))
        if not self.uses_loras:
            return strip_lora_tags(values)
        values["loras"] = self.loras.values()
        return apply_lora_tags(values, files_by_name(self.loras.known_paths()))

    def state(self) -> dict[str, Any]:
        """Everything worth remembering between launches."""
        values = {
            "task": self.current_task,
            "prompt": self.prompt.toPlainText(),
            "negative_prompt": self.negative_prompt.toPlainText(),
            "steps": self.steps.value(),
            "guidance": float(self.guidance.value()),
            "clip_skip": self.clip_skip.value(),
            "strength": float(self.strength.value()),
            "seed": self.seed.seed,
            "sampler": self.sampler.currentData(),
            "variations": self.variations.value(),
            "mask_grow": self.mask_grow.value(),
            "mask_feather": float(self.mask_feather.value()),
            "inpaint_area": self.inpaint_area.currentData(),
            "mask_padding": self.mask_padding.value(),
            "masked_content": self.masked_content.currentData(),
            "seed_locked": self.seed.locked,
            "custom_size": self.custom_size.isChecked(),
            "size": [self.width_field.value(), self.height_field.value()],
            "guidance_type": self.guidance_type.currentData(),
            "sampler_params": self.sampler_params.changed_values(),
            "guidance_params": self.guidance_params.changed_values(),
            "controlnet": self.controls.state(),
            "upscale": self.upscale.state(),
            "loras": self.loras.state(),
            "hires": self.hires.state(),
            "tiling": self.tiling.isChecked(),
            "style": self.style.current_name,
        }
        return values

    def restore(self, state: dict[str, Any]) -> None:
        """Show remembered values; anything unknown or out of range is skipped, the rest still applies."""
        setters = {
            "task": self._select_task,
            "prompt": lambda v: self.prompt.setPlainText(str(v)),
            "negative_prompt": lambda v: self.negative_prompt.setPlainText(str(v)),
            "steps": _number_only(self.steps.setValue),
            "guidance": _number_only(self.guidance.setValue),
            "clip_skip": _in_range(self.clip_skip),
            "strength": _number_only(self.strength.setValue),
            "seed": lambda v: setattr(self.seed, "seed", int(v)),
            "seed_locked": lambda v: setattr(self.seed, "locked", bool(v)),
            "sampler": lambda v: _select(self.sampler, v),
            "guidance_type": lambda v: _select(self.guidance_type, v),
            "sampler_params": self.sampler_params.set_values,
            "guidance_params": self.guidance_params.set_values,
            "variations": _number_only(self.variations.setValue),
            "custom_size": lambda v: self.custom_size.setChecked(bool(v)),
            "size": lambda v: (_number_only(self.width_field.setValue)(int(v[0])),
                               _number_only(self.height_field.setValue)(int(v[1]))),
            "mask_grow": _number_only(self.mask_grow.setValue),
            "mask_feather": _number_only(self.mask_feather.setValue),
            "inpaint_area": lambda v: _select(self.inpaint_area, v),
            "mask_padding": _number_only(self.mask_padding.setValue),
            "masked_content": lambda v: _select(self.masked_content, v),
            "controlnet": self.controls.restore,
            "upscale": self.upscale.restore,
            "hires": self.hires.restore,
            "tiling": lambda v: self.tiling.setChecked(v) if isinstance(v, bool) else None,
            "loras": self.loras.restore,  # checks each entry before Qt sees it (lora_panel.checked_loras)
            "style": self.style.choose,  # "" for none: a recipe's prompts hold their style already
        }
        # the plugins' values after the plugins themselves (choosing one resets its fields)
        for name, value in sorted(state.items(), key=lambda item: item[0].endswith("_params")):
            setter = setters.get(name)
            if setter is None or value is None:
                continue
            try:
                setter(value)
            except (TypeError, ValueError, IndexError, OverflowError):
                continue

    def show_recipe(self, recipe: Recipe) -> None:
        """Fill the panels from a recipe (a PNG exported by Studio) and lock its seed, to make it again."""
        state = {name: getattr(recipe, name) for name in (
            "task", "prompt", "negative_prompt", "steps", "guidance", "strength", "seed", "sampler", "variations",
            "mask_grow", "mask_feather", "inpaint_area", "mask_padding", "masked_content",
        )}
        state.update(seed_locked=True, custom_size=recipe.width is not None, style="")
        if recipe.width is not None:
            state["size"] = [recipe.width, recipe.height]
        legacy = recipe.extras.get("guidance_type")  # recipes written before guidance_type was a field
        state["guidance_type"] = legacy if recipe.guidance_type == "cfg" and legacy else recipe.guidance_type
        state.update(sampler_params=dict(recipe.sampler_params), guidance_params=dict(recipe.guidance_params))
        self.recipe_notes = []
        for kind, combo, key, default in (("sampler", self.sampler, "sampler", Recipe.sampler),
                                          ("guidance", self.guidance_type, "guidance_type", Recipe.guidance_type)):
            if combo.findData(state[key]) < 0:  # a plugin that is not installed here, or disabled
                fallback = default if combo.findData(default) >= 0 else combo.itemData(0)
                label = combo.itemText(max(0, combo.findData(fallback)))
                self.recipe_notes.append(plugin_missing_note(kind, state[key], label))
                state[key], state[f"{key.partition('_')[0]}_params"] = fallback, {}
        self._recipe_embeddings = [e.path for e in recipe.embeddings if Path(e.path).is_file()]
        sd_upscale = recipe.task == "upscale" and (recipe.upscale_factor is not None or recipe.loras
                                                   or recipe.clip_skip > 1 or recipe.controlnets)  # a checkpoint upscaled it
        if recipe.task != "upscale" or sd_upscale:  # the ×4 upscaler has no clip skip: the one shown stays
            state["clip_skip"] = recipe.clip_skip
        if recipe.task in HIRES_TASKS:
            state["tiling"] = recipe.tiling
            state["hires"] = {"use": False} if recipe.hires is None else {"use": True, **asdict(recipe.hires)}
        if recipe.task in TASKS_USING_LORAS or sd_upscale:  # nor LoRAs: the LoRAs shown stay
            state["loras"] = [{"path": lora.path, "weight": lora.weight} for lora in recipe.loras]
        state["upscale"] = {"noise_level": recipe.noise_level, "tile_size": recipe.tile_size,
                            "tile_overlap": recipe.tile_overlap, "upscale_factor": recipe.upscale_factor}
        if recipe.task == "upscale":
            state["upscale"]["model"] = recipe.model
        if recipe.controlnets:
            units = [{"model": u.model, "preprocessor": u.preprocessor, "params": dict(u.params), "scale": u.scale,
                      "start": u.start, "end": u.end} for u in recipe.controlnets]
            state["controlnet"] = {"use": True, "units": units}
        elif recipe.task in TASKS_USING_CONTROLNETS:
            state["controlnet"] = {"use": False}
        self.restore(state)
        if self.recipe_notes:
            self.notice.emit(" ".join(self.recipe_notes))


def _number_only(setter):
    """A Qt setter that refuses anything but a finite number in Python. Letting Qt refuse it instead goes through
    PySide6's error path, which aborts the process when torch.compile has loaded kernels (engine/speed.py)."""
    def set_number(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise TypeError(f"expected a number, got {value!r}")
        setter(round(value) if isinstance(getattr(setter, "__self__", None), QSpinBox) else value)

    return set_number


def _in_range(spin: QSpinBox):
    """A spin box's setter that takes only a whole number within its range, checked before Qt sees it."""
    def set_value(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not spin.minimum() <= value <= spin.maximum():
            raise ValueError(f"expected a whole number from {spin.minimum()} to {spin.maximum()}, got {value!r}")
        spin.setValue(value)

    return set_value


def _multiple_of_8(value: int) -> int:
    return max(8, round(value / 8) * 8)
