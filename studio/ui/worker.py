"""The worker: engine jobs run on their own QThread and report back through signals.

The UI thread never waits on the GPU. The engine (and torch with it) is imported lazily, inside the worker
thread, the first time a model is loaded, so the window shows before torch is even imported. What runs the
jobs is a backend object, injectable, so tests can drive the worker with a fake engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.core.cancel import CancelToken
from studio.core.document import changed_box
from studio.core.errors import JobCancelled, StudioError
from studio.core.masks import Box
from studio.core.recipe import Recipe
from studio.ui.session import write_inputs

log = logging.getLogger(__name__)
THUMBNAIL_SIDE = 160


@dataclass
class GenerateRequest:
    job_id: int
    recipe: Recipe
    picture: np.ndarray  # a copy: the user keeps painting while the job runs
    mask: np.ndarray | None
    files: dict[Path, np.ndarray] = field(default_factory=dict)  # inputs to write for the recipe's paths
    cancel: CancelToken = field(default_factory=CancelToken)
    keep_in: Path | None = None  # the outputs folder every result is also written to (core/outputs.py)


@dataclass(frozen=True)
class JobProgress:
    step: int
    total: int
    item: int
    items: int
    preview: np.ndarray | None = None
    tile: int = 1  # tiles done within this step, when the job works in tiles (upscaling)
    tiles: int = 1

    @property
    def fraction(self) -> float:
        within = (self.step - 1 + self.tile / max(self.tiles, 1)) / max(self.total, 1)
        return (self.item + within) / max(self.items, 1)

    @classmethod
    def of(cls, progress) -> "JobProgress":
        """The engine's progress (or a fake's), as the window receives it."""
        return cls(progress.step, progress.total, progress.item, progress.items, progress.preview,
                   getattr(progress, "tile", 1), getattr(progress, "tiles", 1))


@dataclass
class ControlMapRequest:
    """Run a preprocessor on a copy of the picture, for ControlNet unit `key` of document `document_uid`."""

    key: int
    document_uid: int
    picture: np.ndarray
    preprocessor: str
    params: dict = field(default_factory=dict)


@dataclass
class GeneratedResult:
    """One variation, ready for the window: pixels, metadata, and what the UI thread should not compute."""

    pixels: np.ndarray
    metadata: Any  # studio.core.metadata.ResultMetadata
    notices: list[str]
    changed: Box | None  # the part of the picture this result changes
    thumbnail: np.ndarray
    kept: Path | None = None  # its copy in the outputs folder


class Backend(Protocol):
    def has_model(self, path: str) -> bool: ...

    def load_model(self, path: str) -> None: ...

    def generate(self, request: GenerateRequest, on_progress: Callable[[Any], None], cancel: CancelToken) -> list: ...

    def control_map(self, picture: np.ndarray, preprocessor: str, params: dict) -> np.ndarray: ...


class EngineBackend:
    """The real engine: a ModelStore kept for the life of the worker, models loaded on demand."""

    def __init__(self) -> None:
        self._store = None
        self._loaded: str | None = None

    def _model_store(self):
        if self._store is None:
            from studio.engine.model_store import ModelStore  # imports torch: worker thread only

            self._store = ModelStore()
        return self._store

    def has_model(self, path: str) -> bool:
        return self._loaded == _resolved(path)

    def load_model(self, path: str) -> None:
        from studio.engine.speed import warm_up

        self._loaded = None
        model = self._model_store().get(path)
        try:  # compiles the usual shape now, in the worker, not at the first Generate (CUDA + compile only)
            warm_up(model)
        except Exception as error:  # noqa: BLE001: an optimization; the model itself loaded and the first job retries
            log.warning("warm-up of %s failed, the first job will compile instead: %s", path, error)
        self._loaded = _resolved(path)

    def generate(self, request: GenerateRequest, on_progress, cancel: CancelToken) -> list:
        from studio.engine.jobs import inputs_from_arrays, run_recipe

        inputs = inputs_from_arrays(request.picture, request.mask)
        return run_recipe(request.recipe, self._model_store(), on_progress=on_progress, cancel=cancel, inputs=inputs)

    def run_batch(self, recipe: Recipe, settings, resume: bool, on_progress, cancel: CancelToken, on_written) -> list:
        """A batch export (ui/batch_runner.py): every job of the recipe's grid, written to settings.folder."""
        from studio.engine.batch import run_batch

        return run_batch(recipe, self._model_store(), settings, resume, on_progress, cancel, on_written)

    def control_map(self, picture: np.ndarray, preprocessor: str, params: dict) -> np.ndarray:
        from studio.engine.preprocessors import control_map  # controlnet-aux and torch: worker thread only

        return control_map(picture, preprocessor, params)


def _resolved(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def describe_error(error: BaseException) -> str:
    """One line for the message bar, whatever was raised (a plugin may raise anything, even SystemExit)."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001: an exception whose str() fails still gets a message
        text = ""
    if isinstance(error, StudioError):
        return text or type(error).__name__
    if isinstance(error, MemoryError) or "OutOfMemory" in type(error).__name__:
        return "Out of memory: try a smaller size, fewer variations, or 'only masked' with less padding."
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return f"The job failed ({what}). Your picture and mask are unchanged."


def thumbnail(pixels: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    image = Image.fromarray(pixels)
    image.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(image).copy()


def keep_results(results: list[GeneratedResult], root: Path | None) -> None:
    """Write each result to the day's outputs folder (in the worker thread: PNG encoding takes time). A result
    that cannot be written says so in its notices; the job still succeeds."""
    if root is None:
        return
    from studio.core.metadata import write_png
    from studio.core.outputs import day_folder, next_index, output_name

    folder = day_folder(root)
    index = next_index(folder)  # listed once per job: the worker writes one job at a time
    for result in results:
        recipe = result.metadata.recipe
        try:
            folder.mkdir(parents=True, exist_ok=True)
            result.kept = write_png(folder / output_name(index, recipe.task, recipe.seed), result.pixels,
                                    result.metadata)
            index += 1
        except OSError as error:
            result.notices.append(f"not kept in {folder}: {error.strerror or error}")


def to_generated(result, picture: np.ndarray) -> GeneratedResult:
    changed = changed_box(picture, result.pixels) if result.pixels.shape == picture.shape else None
    return GeneratedResult(result.pixels, result.metadata, list(result.notices), changed, thumbnail(result.pixels))


class Worker(QObject):
    """Lives in the worker thread; its slots run there, one job at a time, in the order asked."""

    model_loading = Signal(str)
    model_ready = Signal(str)
    model_failed = Signal(str, str)
    started = Signal(int)
    progress = Signal(int, object)  # job id, JobProgress
    finished = Signal(int, list)  # job id, [GeneratedResult]
    failed = Signal(int, str)
    cancelled = Signal(int)
    control_map_ready = Signal(object, object)  # ControlMapRequest, HxWx3 uint8
    control_map_failed = Signal(object, str)

    def __init__(self, backend: Backend):
        super().__init__()
        self.backend = backend

    @Slot(str)
    def load_model(self, path: str) -> None:
        try:
            self._ensure_model(path)
        except BaseException:  # noqa: BLE001: reported through model_failed; the worker lives on
            pass

    def _ensure_model(self, path: str) -> None:
        """Load the model unless it is loaded; every load that starts also ends, as ready or failed."""
        if self.backend.has_model(path):
            return
        self.model_loading.emit(path)
        try:
            self.backend.load_model(path)
        except BaseException as error:
            log.exception("loading %s failed", path)
            self.model_failed.emit(path, describe_error(error))
            raise
        self.model_ready.emit(path)

    @Slot(object)
    def generate(self, request: GenerateRequest) -> None:
        job = request.job_id
        if request.cancel.cancelled:
            self.cancelled.emit(job)
            return
        self.started.emit(job)
        try:
            write_inputs(request.files)
            self._ensure_model(request.recipe.model)
            request.cancel.raise_if_cancelled()
            report = lambda p: self.progress.emit(job, JobProgress.of(p))  # noqa: E731
            results = self.backend.generate(request, report, request.cancel)
            generated = [to_generated(result, request.picture) for result in results]
            keep_results(generated, request.keep_in)
        except JobCancelled:
            self.cancelled.emit(job)
        except BaseException as error:  # noqa: BLE001: anything a job raises (MemoryError, a plugin's SystemExit…)
            # is a failed job, never the end of the worker thread or of the app
            log.exception("job %s failed", job)
            self.failed.emit(job, describe_error(error))
        else:
            self.finished.emit(job, generated)

    @Slot(object)
    def make_control_map(self, request: ControlMapRequest) -> None:
        try:
            pixels = self.backend.control_map(request.picture, request.preprocessor, request.params)
            pixels = _fitted(np.asarray(pixels, np.uint8), request.picture.shape)
        except BaseException as error:  # noqa: BLE001: reported; the worker lives on
            log.exception("control map %s failed", request.preprocessor)
            self.control_map_failed.emit(request, describe_error(error))
        else:
            self.control_map_ready.emit(request, pixels)


def _fitted(pixels: np.ndarray, shape: tuple) -> np.ndarray:
    """A map as RGB at the picture's size, whatever the preprocessor gave back."""
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    pixels = pixels[..., :3]
    if pixels.shape != shape:
        pixels = np.asarray(Image.fromarray(pixels).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(pixels)


class WorkerThread(QObject):
    """Owns the worker and its thread. Requests are queued signals: calling them never blocks the UI."""

    _load_requested = Signal(str)
    _generate_requested = Signal(object)
    _control_map_requested = Signal(object)

    def __init__(self, backend: Backend | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("studio-worker")
        self.worker = Worker(backend if backend is not None else EngineBackend())
        self.worker.moveToThread(self.thread)
        self._load_requested.connect(self.worker.load_model)
        self._generate_requested.connect(self.worker.generate)
        self._control_map_requested.connect(self.worker.make_control_map)
        self._pending: list[GenerateRequest] = []
        self.worker.finished.connect(self._forget)
        self.worker.failed.connect(self._forget)
        self.worker.cancelled.connect(self._forget)
        self.thread.start()

    def load_model(self, path: str) -> None:
        self._load_requested.emit(path)

    def generate(self, request: GenerateRequest) -> None:
        self._pending.append(request)
        self._generate_requested.emit(request)

    def make_control_map(self, request: ControlMapRequest) -> None:
        """Queued behind a running job: one thing at a time on the GPU."""
        self._control_map_requested.emit(request)

    def cancel_all(self) -> None:
        """Cancel takes effect at the next step: the token is read by the engine's step hook."""
        for request in self._pending:
            request.cancel.cancel()

    def _forget(self, job_id: int, *_) -> None:
        self._pending = [r for r in self._pending if r.job_id != job_id]

    def stop(self, wait_ms: int | None = None) -> bool:
        """Cancel what runs and end the thread. Waits for the current step (or a model load, which cannot be
        interrupted) unless `wait_ms` bounds it; True if the thread has ended."""
        self.cancel_all()
        self.thread.quit()
        return self.thread.wait() if wait_ms is None else self.thread.wait(wait_ms)
