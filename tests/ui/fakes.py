"""A fake engine for the worker: same interface as studio.ui.worker.EngineBackend, no torch, steps on demand."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Slot

from studio.core.masks import composite
from studio.core.metadata import ResultMetadata

FILL = (40, 200, 120)


@dataclass
class FakeProgress:
    step: int
    total: int
    item: int
    items: int
    preview: np.ndarray | None = None
    tile: int = 1
    tiles: int = 1


@dataclass
class FakeResult:
    pixels: np.ndarray
    metadata: ResultMetadata
    notices: list = field(default_factory=list)


class FakeBackend:
    """Paints the masked area a flat colour, one 'step' at a time (an upscale: the picture ×4, nearest; a hires
    fix: the painted picture enlarged by its factor, nearest). `gate`,
    when given, holds every step until the test releases it, so a test can act in the middle of a job; `error`
    makes the job raise it. Control maps: thresholded brightness steps for any preprocessor ('edges')."""

    def __init__(self, step_seconds: float = 0.0, error: BaseException | None = None, gated: bool = False,
                 load_seconds: float = 0.0):
        self.step_seconds = step_seconds
        self.error = error
        self.gate = threading.Semaphore(0) if gated else None
        self.load_seconds = load_seconds
        self.loaded: set[str] = set()
        self.load_calls: list[str] = []
        self.requests = []
        self.steps_run = 0
        self.steps_after_cancel = 0
        self.load_thread: str | None = None
        self.generate_thread: str | None = None
        self.map_calls: list[tuple[str, dict, str]] = []  # (preprocessor, params, thread)
        self.tiles = 1  # upscale jobs report this many tiles per step

    def has_model(self, path: str) -> bool:
        return path in self.loaded

    def load_model(self, path: str) -> None:
        self.load_thread = threading.current_thread().name
        self.load_calls.append(path)
        time.sleep(self.load_seconds)
        self.loaded.add(path)

    def generate(self, request, on_progress, cancel):
        self.generate_thread = threading.current_thread().name
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        recipe = request.recipe
        results = []
        for item, seed in enumerate(recipe.seeds()):
            for step in range(recipe.steps):
                if self.gate is not None:
                    self.gate.acquire(timeout=10)
                if cancel.cancelled:
                    self.steps_after_cancel += 1
                cancel.raise_if_cancelled()
                time.sleep(self.step_seconds)
                self.steps_run += 1
                preview = np.full((8, 8, 3), (step * 20) % 256, np.uint8)
                tiles = self.tiles if recipe.task == "upscale" else 1
                for tile in range(1, tiles):
                    on_progress(FakeProgress(step + 1, recipe.steps, item, recipe.variations, None, tile, tiles))
                on_progress(FakeProgress(step + 1, recipe.steps, item, recipe.variations, preview, tiles, tiles))
            results.append(FakeResult(self._paint(request, seed), ResultMetadata(recipe.replace(seed=seed, variations=1))))
        return results

    def release(self, steps: int = 1000) -> None:
        for _ in range(steps):
            self.gate.release()

    def control_map(self, picture, preprocessor, params):
        self.map_calls.append((preprocessor, dict(params), threading.current_thread().name))
        if self.error is not None:
            raise self.error
        grey = picture.astype(np.int32).sum(axis=2) // 3
        edges = np.where((grey // 32) % 2 == 0, 0, 255).astype(np.uint8)
        return np.repeat(edges[..., None], 3, axis=2)

    @staticmethod
    def _paint(request, seed: int) -> np.ndarray:
        if request.recipe.task == "upscale":
            upscaled = np.repeat(np.repeat(request.picture, 4, axis=0), 4, axis=1)
            upscaled[..., 0] = (FILL[0] + seed) % 256
            return upscaled
        fill = np.empty_like(request.picture)
        fill[...] = ((FILL[0] + seed) % 256, FILL[1], FILL[2])
        mask = request.mask if request.mask is not None else np.full(request.picture.shape[:2], 255, np.uint8)
        painted = composite(request.picture, fill, mask)
        hires = request.recipe.hires
        if hires is None:
            return painted
        height, width = painted.shape[:2]  # a hires fix: the whole picture enlarged
        size = (round(width * hires.factor), round(height * hires.factor))
        return np.asarray(Image.fromarray(painted).resize(size, Image.Resampling.NEAREST))


class WorkerRecorder(QObject):
    """Records the worker's signals in the UI thread (queued, as the window receives them), so tests wait on
    what the window would see rather than on callbacks run in the worker thread."""

    def __init__(self, worker):
        super().__init__()
        self.events: list[tuple] = []
        worker.model_loading.connect(self.model_loading)
        worker.model_ready.connect(self.model_ready)
        worker.model_failed.connect(self.model_failed)
        worker.progress.connect(self.progress)
        worker.finished.connect(self.finished)
        worker.failed.connect(self.failed)
        worker.cancelled.connect(self.cancelled)

    def named(self, name: str) -> list[tuple]:
        return [event[1:] for event in self.events if event[0] == name]

    @Slot(str)
    def model_loading(self, path):
        self.events.append(("model_loading", path))

    @Slot(str)
    def model_ready(self, path):
        self.events.append(("model_ready", path))

    @Slot(str, str)
    def model_failed(self, path, message):
        self.events.append(("model_failed", path, message))

    @Slot(int, object)
    def progress(self, job, progress):
        self.events.append(("progress", job, progress))

    @Slot(int, list)
    def finished(self, job, results):
        self.events.append(("finished", job, results))

    @Slot(int, str)
    def failed(self, job, message):
        self.events.append(("failed", job, message))

    @Slot(int)
    def cancelled(self, job):
        self.events.append(("cancelled", job))
