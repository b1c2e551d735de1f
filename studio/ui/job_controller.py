"""One job at a time, from the Generate button to its outcome: Generate turns into Cancel while the job runs,
the progress bar and the step preview follow the worker, and the outcome is announced once the window shows it."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressBar, QPushButton

from studio.core.errors import StudioError
from studio.ui.jobs import JobBuilder
from studio.ui.messages import ERROR, WARNING
from studio.ui.results_strip import ResultsStrip
from studio.ui.worker import GeneratedResult, GenerateRequest, JobProgress, WorkerThread

PROGRESS_STEPS = 1000

JobInputs = Callable[[], tuple]  # () -> (document, model path, task, () -> recipe values, [UnitChoice])


class JobController(QObject):
    started = Signal(object)  # GenerateRequest
    results_ready = Signal(list)  # [GeneratedResult], just before ended("finished")
    ended = Signal(str)  # "finished", "failed" or "cancelled"

    def __init__(self, worker: WorkerThread, button: QPushButton, progress: QProgressBar, results: ResultsStrip,
                 inputs: JobInputs, show_message: Callable[[str, str], None], show_status: Callable[..., None],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self.builder = JobBuilder()
        self.button = button
        self.progress = progress
        self.results = results
        self.inputs = inputs
        self.show_message = show_message
        self.show_status = show_status
        self.job: GenerateRequest | None = None
        self.keep_in: Callable[[], object] = lambda: None  # the outputs folder results are also written to, or None
        self._model_loading = False
        self.progress.setRange(0, PROGRESS_STEPS)
        button.clicked.connect(self.generate_or_cancel)
        worker.worker.progress.connect(self._progress)
        worker.worker.finished.connect(self._finished)
        worker.worker.failed.connect(self._failed)
        worker.worker.cancelled.connect(self._cancelled)
        self._show_state()

    @property
    def running(self) -> bool:
        return self.job is not None

    def generate_or_cancel(self) -> None:
        self.cancel() if self.running else self.generate()

    def generate(self) -> GenerateRequest | None:
        if self.running:
            return None
        try:
            request = self.builder.build(*self.inputs())
            request.keep_in = self.keep_in()
        except StudioError as error:
            self.show_message(str(error), ERROR)
            return None
        self.job = request
        self.results.begin_job()
        self.progress.setValue(0)
        self.show_status("Generating…")
        self._show_state()
        self.started.emit(request)
        self.worker.generate(request)
        return request

    def cancel(self) -> None:
        """Takes effect at the engine's next step; the button says so until the worker confirms."""
        if not self.running:
            return
        self.worker.cancel_all()
        self.button.setText("Cancelling…")
        self.button.setEnabled(False)

    def model_loading(self, loading: bool) -> None:
        self._model_loading = loading
        self._show_state()

    def _show_state(self) -> None:
        running = self.running
        self.button.setText("Cancel" if running else "Generate")
        self.button.setEnabled(True)
        self.button.setProperty("running", running)
        self.button.style().unpolish(self.button)
        self.button.style().polish(self.button)
        busy = self._model_loading and (not running or self.progress.value() <= 0)
        self.progress.setRange(0, 0 if busy else PROGRESS_STEPS)  # an empty range: Qt's "busy" bar
        self.progress.setVisible(running or self._model_loading)

    def _is_current(self, job_id: int) -> bool:
        return self.job is not None and self.job.job_id == job_id

    def _progress(self, job_id: int, progress: JobProgress) -> None:
        if not self._is_current(job_id):
            return
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setValue(round(progress.fraction * PROGRESS_STEPS))
        items = f" · picture {progress.item + 1}/{progress.items}" if progress.items > 1 else ""
        tiles = f" · tile {progress.tile}/{progress.tiles}" if progress.tiles > 1 else ""
        self.show_status(f"Step {progress.step}/{progress.total}{tiles}{items}")
        self.results.show_progress(progress)

    def _end(self, job_id: int) -> bool:
        if not self._is_current(job_id):
            return False
        self.job = None
        self.show_status("")
        self._show_state()
        return True

    def _finished(self, job_id: int, results: list[GeneratedResult]) -> None:
        if not self._end(job_id):
            return
        self.results.set_results(results)
        notices = sorted({notice for result in results for notice in result.notices})
        if notices:
            self.show_message("\n".join(notices), WARNING)
        self.results_ready.emit(results)
        count = len(results)
        self.show_status(f"{count} result{'s' if count != 1 else ''}: select one, then Apply", 6000)
        self.ended.emit("finished")

    def _failed(self, job_id: int, message: str) -> None:
        if self._end(job_id):
            self.results.end_job("Failed")
            self.show_message(message, ERROR)
            self.ended.emit("failed")

    def _cancelled(self, job_id: int) -> None:
        if self._end(job_id):
            self.results.end_job("Cancelled")
            self.show_status("Cancelled", 4000)
            self.ended.emit("cancelled")
