"""The window's batch commands: File ▸ Batch export… (dialog, then the batch in the worker with the comparison
window following it) and File ▸ Open batch folder… (a finished or interrupted batch, side by side, resumable).
A picture clicked in the comparison goes to the results strip when it was made from the open picture (so it
can be applied), else it opens as the picture, with its recipe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from studio.core.document import changed_box
from studio.core.errors import StudioError
from studio.core.export import check_pattern, recorded_batch
from studio.core.images import load_image, pixel_hash
from studio.core.metadata import read_metadata
from studio.core.starter import IGNORED_SWEEP_AXES
from studio.core.sweeps import expand
from studio.ui.batch_dialog import BatchDialog
from studio.ui.batch_plan import BatchInputs, BatchPlan, default_parent
from studio.ui.batch_runner import BatchRequest, BatchRunner
from studio.ui.comparison_view import Cell, ComparisonWindow, cells_from_folder
from studio.ui.jobs import JobBuilder
from studio.ui.messages import ERROR, INFO, WARNING
from studio.ui.worker import GeneratedResult, thumbnail

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow


class BatchController(QObject):
    ended = Signal(str)  # "finished", "failed" or "cancelled", once the window shows it

    def __init__(self, window: "MainWindow", job_inputs: Callable[[], tuple]):
        super().__init__(window)
        self.window = window
        self.job_inputs = job_inputs  # what Generate uses: () -> (document, model, task, () -> recipe values)
        self.builder = JobBuilder()
        self.runner = BatchRunner(window.worker, self)
        self.comparison = ComparisonWindow(window)
        self.dialog: BatchDialog | None = None
        self.runner.progress.connect(self.comparison.show_progress)
        self.runner.written.connect(self.comparison.add_picture)
        self.runner.ended.connect(self._ended)
        self.comparison.cancel_requested.connect(self.cancel)
        self.comparison.resume_requested.connect(self.resume_folder)
        self.comparison.picture_chosen.connect(self.send_to_window)

    @property
    def running(self) -> bool:
        return self.runner.running

    # Batch export

    def ask_batch_export(self) -> BatchDialog | None:
        """Open the dialog on the recipe Generate would use; OK starts the batch. Returns the (open) dialog."""
        if self.running:
            self._show_comparison()
            self.window.show_message("A batch is running: wait for it, or cancel it in the batch window.", WARNING)
            return None
        try:
            request = self.builder.build(*self.job_inputs())
        except StudioError as error:
            self.window.show_message(str(error), ERROR)
            return None
        inputs = BatchInputs.of(request.recipe, request.picture, request.mask, request.files)
        ignored = IGNORED_SWEEP_AXES if self.window.recipe_panel.starter_in_use else None
        self.dialog = BatchDialog(request.recipe, inputs, self.window.settings.batch, self.window, ignored)
        self.dialog.accepted.connect(self._dialog_accepted)
        self.dialog.open()
        return self.dialog

    def _dialog_accepted(self) -> None:
        dialog = self.dialog
        plan = dialog.plan() if dialog is not None else None
        if plan is None:
            return
        self.window.settings.batch = dialog.remembered()
        self.window.save_settings()
        self.start(plan)

    def start(self, plan: BatchPlan) -> BatchRequest | None:
        request = self.runner.start(plan)
        if request is None:
            return None
        jobs = expand(plan.recipe)
        names = check_pattern(plan.settings, jobs)
        folder = Path(plan.settings.folder)
        cells = [Cell(job.index, dict(job.swept), _existing(folder / names[job.index]) if plan.resume else None)
                 for job in jobs]
        self.comparison.show_folder(folder, cells)
        self.comparison.set_running(True)
        self._show_comparison()
        self.window.statusBar().showMessage(f"Batch export: {len(jobs)} pictures to {folder}")
        return request

    def cancel(self) -> None:
        self.runner.cancel()

    def _ended(self, outcome: str, message: str) -> None:
        self.comparison.ended(message)
        folder = self.comparison.folder
        level = {"finished": INFO, "cancelled": WARNING}.get(outcome, ERROR)
        text = {"finished": f"Batch export done: {message} in {folder}.",
                "cancelled": f"Batch export cancelled; the pictures made so far are in {folder}."}.get(outcome, message)
        self.window.statusBar().clearMessage()
        self.window.show_message(text, level)
        self.ended.emit(outcome)

    # Opening and resuming a batch folder

    def ask_open_folder(self) -> None:
        start = self.window.settings.batch.get("folder") or str(default_parent())
        while start and not Path(start).is_dir() and Path(start) != Path(start).parent:
            start = str(Path(start).parent)
        path = QFileDialog.getExistingDirectory(self.window, "Open a batch folder", start)
        if path:
            self.open_folder(path)

    def open_folder(self, folder: str | Path) -> bool:
        try:
            cells = cells_from_folder(Path(folder))
        except StudioError as error:
            self.window.show_message(str(error), ERROR)
            return False
        if self.running and self.comparison.folder != Path(folder):
            self.window.show_message("A batch is running: its window shows it until it ends.", WARNING)
            return False
        if not self.running:
            self.comparison.show_folder(Path(folder), cells)
        self._show_comparison()
        return True

    def resume_folder(self, folder: str | Path) -> BatchRequest | None:
        """Finish the batch a folder holds, exactly as it was started."""
        try:
            recorded = recorded_batch(Path(folder))
        except StudioError as error:
            self.window.show_message(f"The batch in {folder} cannot be read: {error}", ERROR)
            return None
        if recorded is None:
            self.window.show_message(f"{folder} holds no batch to resume.", ERROR)
            return None
        recipe, settings = recorded
        return self.start(BatchPlan(recipe, settings, resume=True))

    def _show_comparison(self) -> None:
        self.comparison.show()
        self.comparison.raise_()

    # A picture from the comparison, to the window

    def send_to_window(self, path: Path) -> bool:
        try:
            pixels = load_image(path)
            meta = read_metadata(path)
        except (StudioError, OSError) as error:
            self.window.show_message(f"Cannot open {Path(path).name}: {error}", ERROR)
            return False
        document = self.window.document
        made_here = (document is not None and meta is not None and pixels.shape == document.picture.shape
                     and meta.hashes.get("image") == pixel_hash(document.picture))
        if not made_here:
            return self.window.open_picture(path)
        result = GeneratedResult(pixels, meta, [], changed_box(document.picture, pixels), thumbnail(pixels))
        self.window.show_results([result], document)
        self.window.activateWindow()
        return True


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None
