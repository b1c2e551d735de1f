"""Batch exports in the worker thread: one batch at a time, with overall progress, a picture signal per file
written, and cancel.

The batch worker lives on the same QThread as the Generate worker and uses the same backend (so the same
loaded model); the two take turns, in the order they were asked. The backend's `run_batch` runs the engine's
batch runner, imported there and only there.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from studio.core.cancel import CancelToken
from studio.core.errors import JobCancelled, StudioError
from studio.core.export import BatchFolder, ExportSettings
from studio.core.recipe import Recipe
from studio.core.sweeps import expand
from studio.ui.batch_plan import BatchPlan
from studio.ui.session import write_inputs
from studio.ui.worker import JobProgress, WorkerThread, describe_error, thumbnail

log = logging.getLogger(__name__)


@dataclass
class BatchRequest:
    batch_id: int
    recipe: Recipe
    settings: ExportSettings
    resume: bool
    files: dict[Path, np.ndarray] = field(default_factory=dict)
    cancel: CancelToken = field(default_factory=CancelToken)


class BatchWorker(QObject):
    """Lives in the worker thread. Progress counts pictures over the whole batch, resumed ones included."""

    started = Signal(int)
    progress = Signal(int, object)  # batch id, JobProgress
    written = Signal(int, int, str, object)  # batch id, job index, path, thumbnail (HxWx3 uint8)
    finished = Signal(int, int)  # batch id, pictures written by this run
    failed = Signal(int, str)
    cancelled = Signal(int)

    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    @Slot(object)
    def run(self, request: BatchRequest) -> None:
        batch = request.batch_id
        if request.cancel.cancelled:
            self.cancelled.emit(batch)
            return
        self.started.emit(batch)
        count = itertools.count(1)
        try:
            self._check_folder(request)
            if not self.backend.has_model(request.recipe.model):
                raise StudioError(f"The model {Path(request.recipe.model).name} is not loaded (see the model panel).")
            write_inputs({path: pixels for path, pixels in request.files.items() if not path.exists()})

            def report(p) -> None:
                self.progress.emit(batch, JobProgress(p.step, p.total, p.item, p.items, p.preview))

            def on_written(job, path, result) -> None:
                next(count)
                self.written.emit(batch, job.index, str(path), thumbnail(result.pixels))

            self.backend.run_batch(request.recipe, request.settings, request.resume, report, request.cancel, on_written)
        except JobCancelled:
            self._index_what_is_there(request)
            self.cancelled.emit(batch)
        except BaseException as error:  # noqa: BLE001: anything (a plugin's SystemExit too) is reported; the worker lives on
            log.exception("batch %s failed", batch)
            self._index_what_is_there(request)
            self.failed.emit(batch, describe_error(error))
        else:
            self.finished.emit(batch, next(count) - 1)

    @staticmethod
    def _check_folder(request: BatchRequest) -> None:
        """Refuse a folder that holds another batch before writing the inputs into it."""
        folder = BatchFolder(request.settings, request.recipe, expand(request.recipe))
        if folder.holds() == "another":
            raise StudioError(f"{request.settings.folder} holds another batch; choose an empty folder")

    @staticmethod
    def _index_what_is_there(request: BatchRequest) -> None:
        """An interrupted batch still gets its index and contact sheet, over the pictures it has."""
        try:
            folder = BatchFolder(request.settings, request.recipe, expand(request.recipe))
            if folder.holds() == "this":
                folder.finish()
        except Exception:  # noqa: BLE001: the index is a convenience; the pictures are what matters
            log.exception("indexing %s failed", request.settings.folder)


class BatchRunner(QObject):
    """The window's side of a batch: start, cancel, and the worker's reports for the current batch only."""

    started = Signal(object)  # BatchRequest
    progress = Signal(object)  # JobProgress
    written = Signal(int, str, object)  # job index, path, thumbnail
    ended = Signal(str, str)  # "finished", "failed" or "cancelled"; a message

    _run_requested = Signal(object)

    def __init__(self, worker: WorkerThread, parent: QObject | None = None):
        super().__init__(parent)
        self.worker_thread = worker
        self.worker = BatchWorker(worker.worker.backend)
        self.worker.moveToThread(worker.thread)
        self._run_requested.connect(self.worker.run)
        self.worker.progress.connect(self._progress)
        self.worker.written.connect(self._written)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self._ids = itertools.count(1)
        self.request: BatchRequest | None = None

    @property
    def running(self) -> bool:
        return self.request is not None

    def start(self, plan: BatchPlan) -> BatchRequest | None:
        if self.running:
            return None
        request = BatchRequest(next(self._ids), plan.recipe, plan.settings, plan.resume, dict(plan.files))
        self.request = request
        self.started.emit(request)
        self.worker_thread.load_model(plan.recipe.model)  # queued first: it runs before the batch, and says so
        self._run_requested.emit(request)
        return request

    def cancel(self) -> None:
        """Takes effect at the engine's next step; pictures already written stay."""
        if self.request is not None:
            self.request.cancel.cancel()

    def _current(self, batch_id: int) -> bool:
        return self.request is not None and self.request.batch_id == batch_id

    def _progress(self, batch_id: int, progress: JobProgress) -> None:
        if self._current(batch_id):
            self.progress.emit(progress)

    def _written(self, batch_id: int, index: int, path: str, thumb) -> None:
        if self._current(batch_id):
            self.written.emit(index, path, thumb)

    def _end(self, batch_id: int, outcome: str, message: str) -> None:
        if self._current(batch_id):
            self.request = None
            self.ended.emit(outcome, message)

    def _finished(self, batch_id: int, count: int) -> None:
        self._end(batch_id, "finished", f"{count} picture{'s' if count != 1 else ''} written")

    def _failed(self, batch_id: int, message: str) -> None:
        self._end(batch_id, "failed", message)

    def _cancelled(self, batch_id: int) -> None:
        self._end(batch_id, "cancelled", "Cancelled: the pictures made so far are kept; resume to finish")
