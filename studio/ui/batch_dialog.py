"""The batch export dialog: how many seeds, which parameters to sweep, where the pictures go and how they are
named. It starts from the recipe Generate would use, shows the job count, the first file names and what the
chosen folder holds as the user types, and keeps OK disabled while anything would fail."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
)

from studio.core.errors import RecipeError, StudioError
from studio.core.export import DEFAULT_PATTERN, PATTERN_FIELDS, ExportSettings, check_pattern, recorded_batch
from studio.core.metadata import FORMATS
from studio.core.recipe import MAX_SEED, Recipe
from studio.core.sweeps import Job, expand
from studio.ui.batch_plan import BatchInputs, BatchPlan, FolderState, inspect_folder, proposed_folder
from studio.ui.sweep_fields import AXIS_LABELS, NumberAxis, PromptAxis, SamplerAxis, show_invalid
from studio.ui.theme import icon

FORMAT_LABELS = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
PREVIEW_NAMES = 3
AXIS_HINTS = {"lora_weight": "Every LoRA of the recipe takes each weight in turn",
              "hires_strength": "How much the hires fix's second pass redraws",
              "clip_skip": "1 uses the text encoder's last layer, 2 the one before it (AUTOMATIC1111's numbering)",
              "prompt_sr": "Search and replace: the first phrase is found in the prompt (or negative prompt) and "
                           "each phrase replaces it in turn, the first included"}
INVALID_STYLE = '*[invalid="true"] { border: 1px solid #e5534b; }'


def _x4_upscale(recipe: Recipe) -> bool:
    """An upscale with the ×4 upscaler (a checkpoint's upscale names its factor)."""
    return recipe.task == "upscale" and recipe.upscale_factor is None


class BatchDialog(QDialog):
    """`base` is the recipe Generate would use; `inputs` the pictures it names, copied into the folder.
    After OK, `plan()` is the batch to run and `remembered()` what to keep for next time."""

    REFRESH_MS = 150

    def __init__(self, base: Recipe, inputs: BatchInputs | None = None, remembered: dict | None = None, parent=None,
                 ignored_axes: dict[str, str] | None = None):
        """`ignored_axes`: sweep axes the model ignores (axis -> why), offered disabled with the reason."""
        super().__init__(parent)
        self.setWindowTitle("Batch export")
        self.setObjectName("batchDialog")
        self.setStyleSheet(INVALID_STYLE)
        self.base = base.replace(sweep={}, variations=1, batch_seeds=None)
        self.inputs = inputs
        remembered = remembered or {}
        self._recorded: Recipe | None = None  # a batch loaded from the folder, run exactly as recorded
        self._populating = False
        self.jobs: list[Job] = []
        self.names: dict[int, str] = {}
        self.state: FolderState | None = None
        self._last_kind: str | None = None
        self.problem = ""
        self._plan: BatchPlan | None = None
        self._build(base, remembered)
        self._disable_axes(ignored_axes or {})
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._connect()
        self.refresh()

    # Building

    def _build(self, base: Recipe, remembered: dict) -> None:
        pictures = self._build_pictures(base, remembered)
        sweeps = self._build_sweeps(base)
        export = self._build_export(remembered)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("batchProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #ff7b72;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        for widget in (pictures, sweeps, self.summary, export, self.problem_label, self.buttons):
            layout.addWidget(widget)

    def _build_pictures(self, base: Recipe, remembered: dict) -> QGroupBox:
        self.variations = QSpinBox()
        self.variations.setRange(1, 10_000)
        self.variations.setValue(_int(remembered.get("variations"), base.variations, 1, 10_000))
        self.variations.setToolTip("Pictures per combination of the swept values, each with the next seed")
        self.first_seed = QDoubleSpinBox()
        self.first_seed.setDecimals(0)
        self.first_seed.setRange(0, MAX_SEED)
        self.first_seed.setValue(base.seed)
        self.dice = QToolButton()
        self.dice.setIcon(icon("dice"))
        self.dice.setToolTip("Draw a new first seed")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(0, 64)
        self.batch_size.setSpecialValueText("Auto (from free memory)")
        self.batch_size.setValue(_int(remembered.get("batch_size"), base.batch_size, 0, 64))
        self.batch_size.setToolTip("Pictures computed together in one pass; Auto fits them to the free memory")
        pictures = QGroupBox("Pictures")
        form = QFormLayout(pictures)
        form.addRow("Seeds per setting", self.variations)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.first_seed, 1)
        seed_row.addWidget(self.dice)
        form.addRow("First seed", seed_row)
        form.addRow("Per pass", self.batch_size)
        return pictures

    def _build_sweeps(self, base: Recipe) -> QGroupBox:
        self.axes: dict[str, NumberAxis | SamplerAxis | PromptAxis] = {}
        sweeps = QGroupBox("Sweep (every combination is made)")
        grid = QGridLayout(sweeps)
        for row, axis in enumerate(("guidance", "steps", "strength", "hires_strength", "controlnet_scale", "lora_weight",
                                    "clip_skip", "seed")):
            field = NumberAxis(axis)
            self._prefill_range(field, base)
            field.add_to(grid, row)
            self.axes[axis] = field
        self.axes["sampler"] = SamplerAxis()
        self.axes["sampler"].add_to(grid, len(self.axes) - 1)
        self.axes["sampler"].set_values([base.sampler])
        self.axes["sampler"].enabled.setChecked(False)
        self.axes["prompt_sr"] = PromptAxis()
        self.axes["prompt_sr"].add_to(grid, len(self.axes) - 1)
        grid.setColumnStretch(2, 1)
        for axis, reason in (("controlnet_scale", "" if base.controlnets else "The recipe has no ControlNet"),
                             ("lora_weight", "" if base.loras else "The recipe has no LoRA"),
                             ("hires_strength", "" if base.hires else "The recipe has no hires fix"),
                             ("clip_skip", "The ×4 upscaler has no clip skip" if _x4_upscale(base) else ""),
                             ("prompt_sr", "")):
            self.axes[axis].enabled.setEnabled(not reason)
            self.axes[axis].enabled.setToolTip(reason or AXIS_HINTS.get(axis, ""))
        self.summary = QLabel()
        self.summary.setObjectName("batchSummary")
        return sweeps

    def _build_export(self, remembered: dict) -> QGroupBox:
        self.folder = QLineEdit(str(proposed_folder(remembered.get("folder"))))
        self.choose_folder = QPushButton("Choose…")
        self.folder_state = QLabel()
        self.folder_state.setWordWrap(True)
        self.resume = QCheckBox("Resume: make only the pictures still missing")
        self.load_recorded = QPushButton("Load that batch's settings")
        self.load_recorded.setToolTip("Show the batch this folder holds, as it was started, so it can be resumed")
        self.pattern = QLineEdit(str(remembered.get("pattern") or DEFAULT_PATTERN))
        self.pattern.setToolTip("Fields: " + " ".join(f"{{{name}}}" for name in PATTERN_FIELDS)
                                + "\nFormat specs work too, e.g. {index:03d} or {guidance:.1f}")
        self.names_preview = QLabel()
        self.names_preview.setObjectName("namesPreview")
        self.names_preview.setWordWrap(True)
        self.format = QComboBox()
        for kind in FORMATS:
            self.format.addItem(FORMAT_LABELS.get(kind, kind), kind)
        index = self.format.findData(remembered.get("kind", "png"))
        self.format.setCurrentIndex(max(index, 0))
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(_int(remembered.get("quality"), 95, 1, 100))
        export = QGroupBox("Export")
        form = QFormLayout(export)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose_folder)
        form.addRow("Folder", folder_row)
        form.addRow("", self.folder_state)
        recorded_row = QHBoxLayout()
        recorded_row.addWidget(self.resume)
        recorded_row.addWidget(self.load_recorded)
        recorded_row.addStretch(1)
        form.addRow("", recorded_row)
        form.addRow("Names", self.pattern)
        form.addRow("", self.names_preview)
        format_row = QHBoxLayout()
        format_row.addWidget(self.format)
        format_row.addWidget(QLabel("Quality"))
        format_row.addWidget(self.quality)
        format_row.addStretch(1)
        form.addRow("Format", format_row)
        return export

    def _disable_axes(self, reasons: dict[str, str]) -> None:
        for axis, reason in reasons.items():
            self.axes[axis].enabled.setChecked(False)
            self.axes[axis].enabled.setEnabled(False)
            self.axes[axis].enabled.setToolTip(reason)

    @staticmethod
    def _prefill_range(field: NumberAxis, base: Recipe) -> None:
        """Ranges start around the current value, so switching to Range shows something sensible."""
        current = {"guidance": base.guidance, "steps": base.steps, "strength": base.strength, "seed": base.seed,
                   "controlnet_scale": base.controlnets[0].scale if base.controlnets else 1.0,
                   "lora_weight": base.loras[0].weight if base.loras else 1.0, "clip_skip": base.clip_skip,
                   "hires_strength": base.hires.strength if base.hires else 0.5}[field.axis]
        step = {"guidance": 1.0, "steps": 10, "strength": 0.1, "seed": 1, "controlnet_scale": 0.25, "lora_weight": 0.25,
                "clip_skip": 1, "hires_strength": 0.1}[field.axis]
        field.start.setValue(current)
        field.stop.setValue(current + 2 * step)
        field.step.setValue(step)

    def _connect(self) -> None:
        recipe_fields = (self.variations.valueChanged, self.first_seed.valueChanged, self.batch_size.valueChanged,
                         self.pattern.textChanged, self.format.currentIndexChanged)
        for signal in (*recipe_fields, *(field.changed for field in self.axes.values())):
            signal.connect(self._edited)
        self.folder.textChanged.connect(self._schedule)
        self.resume.toggled.connect(self._schedule)
        self.quality.valueChanged.connect(self._schedule)
        self.format.currentIndexChanged.connect(self._sync_quality)
        self.dice.clicked.connect(lambda: self.first_seed.setValue(random.randint(0, MAX_SEED)))
        self.choose_folder.clicked.connect(self.ask_folder)
        self.load_recorded.clicked.connect(self.load_folder_batch)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._sync_quality()

    def _sync_quality(self) -> None:
        self.quality.setEnabled(self.format.currentData() in ("jpeg", "webp"))

    def _edited(self) -> None:
        if not self._populating:
            self._recorded = None  # the user changes the loaded batch: it becomes a new one
        self._schedule()

    def _schedule(self) -> None:
        self._plan = None
        self._timer.start()

    # What the fields say

    def _sweep(self) -> dict[str, list]:
        sweep = {}
        for axis, field in self.axes.items():
            if field.active:
                sweep[axis] = field.sweep_values()
        return sweep

    def _recipe(self) -> Recipe:
        if self._recorded is not None:
            return self._recorded
        changes = {"variations": self.variations.value(), "batch_size": self.batch_size.value(), "sweep": self._sweep()}
        if "seed" not in changes["sweep"]:
            changes["seed"] = int(self.first_seed.value())
        return self.base.replace(**changes)

    def export_settings(self) -> ExportSettings:
        return ExportSettings(Path(self.folder.text().strip()).expanduser(), self.pattern.text(),
                              self.format.currentData(), self.quality.value())

    def refresh(self) -> None:
        """Recompute everything the fields decide; the first problem found is shown and keeps OK disabled."""
        self._timer.stop()
        self._last_kind = self.state.kind if self.state else self._last_kind
        self._plan, self.jobs, self.names, self.state = None, [], {}, None
        for widget in (self.variations, self.first_seed, self.batch_size, self.pattern, self.folder):
            show_invalid(widget, False)
        for field in self.axes.values():
            field.mark_invalid(False)
        self.first_seed.setEnabled(not self.axes["seed"].active)
        self.summary.setText("")
        self.names_preview.setText("")
        try:
            self._plan = self._check()
            self.problem = ""
        except StudioError as error:
            self.problem = self._describe(error)
        except OSError as error:  # a folder that cannot be read
            show_invalid(self.folder, True)
            self.problem = f"Cannot use {self.folder.text().strip()}: {error.strerror or error}"
        self.problem_label.setText(self.problem)
        self.problem_label.setVisible(bool(self.problem))
        self._show_folder_state()
        self.ok_button.setEnabled(self._plan is not None)
        self.ok_button.setText("Resume" if self._plan is not None and self._plan.resume else "Export")

    def _check(self) -> BatchPlan:
        recipe = self._recipe()
        self.jobs = expand(recipe)
        self.summary.setText(self._summary(recipe))
        settings = self.export_settings()
        try:
            self.names = check_pattern(settings, self.jobs)
        except StudioError:
            show_invalid(self.pattern, True)
            raise
        self.names_preview.setText(self._preview())
        if not self.folder.text().strip():
            show_invalid(self.folder, True)
            raise StudioError("Choose a folder for the pictures.")
        files = {}
        if self.inputs is not None and self._recorded is None:
            recipe, files = self.inputs.placed(recipe, settings.folder)
        self.state = inspect_folder(settings, recipe, self.jobs)
        if self.state.kind == "this" and self._last_kind != "this":  # resuming is what a user wants here
            self.resume.blockSignals(True)
            self.resume.setChecked(True)
            self.resume.blockSignals(False)
        if not self.state.usable:
            show_invalid(self.folder, True)
            raise StudioError(self.state.message)
        resume = self.state.kind == "this" and self.resume.isChecked()
        if self.state.kind == "this" and not resume:
            show_invalid(self.folder, True)
            raise StudioError("This folder already holds this batch: tick Resume, or choose an empty folder.")
        return BatchPlan(recipe, settings, resume, files)

    def _describe(self, error: StudioError) -> str:
        if not isinstance(error, RecipeError):
            return str(error)
        field = error.field
        axis = field.removeprefix("sweep.")
        if axis in self.axes:
            self.axes[axis].mark_invalid(True)
            return f"{AXIS_LABELS[axis]}: {error.reason}"
        widget = {"variations": self.variations, "seed": self.first_seed, "batch_size": self.batch_size}.get(field)
        if widget is not None:
            show_invalid(widget, True)
        if field == "sweep":
            self.summary.setText(f"Too many pictures: {error.reason}")
        return str(error)

    def _summary(self, recipe: Recipe) -> str:
        parts = [f"{AXIS_LABELS[axis].lower()} {len(values)}" for axis, values in recipe.sweep.items()]
        if recipe.variations > 1:
            parts.append(f"{recipe.variations} seeds")
        count = len(self.jobs)
        detail = f": {' × '.join(parts)}" if len(parts) > 1 else ""
        return f"{count} picture{'s' if count != 1 else ''}{detail}"

    def _preview(self) -> str:
        names = [self.names[job.index] for job in self.jobs]
        shown = names[:PREVIEW_NAMES]
        if len(names) > PREVIEW_NAMES:
            shown += ["…", names[-1]] if len(names) > PREVIEW_NAMES + 1 else [names[-1]]
        return ", ".join(shown)

    def _show_folder_state(self) -> None:
        state = self.state
        self.folder_state.setText(state.message if state else "")
        self.resume.setVisible(state is not None and state.kind == "this")
        self.load_recorded.setVisible(state is not None and state.kind == "another")

    # Actions

    def ask_folder(self) -> None:
        start = Path(self.folder.text()).expanduser()
        while not start.is_dir() and start != start.parent:
            start = start.parent
        path = QFileDialog.getExistingDirectory(self, "Batch export folder", str(start))
        if path:
            self.folder.setText(path)

    def load_folder_batch(self) -> bool:
        """Show the batch the chosen folder holds, as it was started; then OK resumes it."""
        try:
            recorded = recorded_batch(self.export_settings().folder)
        except StudioError as error:
            self.problem_label.setText(f"The batch in this folder cannot be read: {error}")
            return False
        if recorded is None:
            return False
        recipe, settings = recorded
        self._populating = True
        try:
            self.base = recipe.replace(sweep={}, variations=1)
            self.inputs = None
            self.variations.setValue(recipe.variations)
            self.first_seed.setValue(recipe.seed)
            self.batch_size.setValue(recipe.batch_size)
            for axis, field in self.axes.items():
                field.set_values(recipe.sweep.get(axis))
            self.pattern.setText(settings.pattern)
            self.format.setCurrentIndex(max(self.format.findData(settings.kind), 0))
        finally:
            self._populating = False
        self._recorded = recipe
        self.resume.setChecked(True)
        self.refresh()
        return True

    def plan(self) -> BatchPlan | None:
        if self._timer.isActive() or self._plan is None:
            self.refresh()
        return self._plan

    def remembered(self) -> dict:
        return {"folder": self.folder.text().strip(), "pattern": self.pattern.text(), "kind": self.format.currentData(),
                "quality": self.quality.value(), "variations": self.variations.value(),
                "batch_size": self.batch_size.value()}

    def accept(self) -> None:
        if self.plan() is not None:
            super().accept()


def _int(value: Any, default: int, low: int, high: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else default
