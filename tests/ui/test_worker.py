"""The worker thread on its own: jobs run off the UI thread and report through signals."""

import threading

import numpy as np
import pytest

from studio.core.errors import ModelError, StudioError
from studio.core.recipe import Recipe
from studio.ui.worker import GeneratedResult, GenerateRequest, JobProgress, WorkerThread, describe_error
from tests.ui.fakes import FakeBackend, WorkerRecorder

TIMEOUT = 5000


@pytest.fixture
def make_worker(qtbot):
    made = []

    def make(backend):
        worker = WorkerThread(backend)
        made.append(worker)
        return worker, WorkerRecorder(worker.worker)

    yield make
    for worker in made:
        assert worker.stop(5000)


def request(job_id=1, steps=4, variations=1, tmp_path=None):
    picture = np.full((16, 24, 3), 100, np.uint8)
    mask = np.zeros((16, 24), np.uint8)
    mask[4:8, 5:10] = 255
    recipe = Recipe(task="inpaint", model="/models/m.safetensors", image="/p.png", mask="/m.png", steps=steps,
                    variations=variations, seed=5)
    files = {tmp_path / "session" / "mask-0001.png": mask} if tmp_path else {}
    return GenerateRequest(job_id, recipe, picture, mask, files)


def test_a_job_runs_in_the_worker_thread_and_reports_every_step(qtbot, make_worker, tmp_path):
    backend = FakeBackend()
    worker, seen = make_worker(backend)
    worker.generate(request(steps=3, variations=2, tmp_path=tmp_path))
    qtbot.waitUntil(lambda: bool(seen.named("finished")), timeout=TIMEOUT)
    [(job_id, results)] = seen.named("finished")
    assert job_id == 1 and len(results) == 2
    assert backend.generate_thread != threading.current_thread().name
    assert backend.load_thread == backend.generate_thread
    progress: list[JobProgress] = [p for _, p in seen.named("progress")]
    assert [(p.item, p.step, p.total) for p in progress] == [(i, s, 3) for i in range(2) for s in (1, 2, 3)]
    assert progress[-1].fraction == 1.0 and progress[0].preview.shape == (8, 8, 3)
    result: GeneratedResult = results[0]
    assert (result.changed.left, result.changed.top, result.changed.right, result.changed.bottom) == (5, 4, 10, 8)
    assert result.thumbnail.ndim == 3 and max(result.thumbnail.shape[:2]) <= 160
    assert [r.metadata.recipe.seed for r in results] == [5, 6]
    assert (tmp_path / "session" / "mask-0001.png").exists(), "the worker writes the inputs the recipe names"
    assert [e[0] for e in seen.events][:2] == ["model_loading", "model_ready"]


def test_the_model_loads_once_in_the_worker(qtbot, make_worker):
    backend = FakeBackend()
    worker, seen = make_worker(backend)
    worker.load_model("/models/m.safetensors")
    qtbot.waitUntil(lambda: bool(seen.named("model_ready")), timeout=TIMEOUT)
    worker.generate(request())
    qtbot.waitUntil(lambda: bool(seen.named("finished")), timeout=TIMEOUT)
    assert backend.load_calls == ["/models/m.safetensors"]
    assert len(seen.named("model_loading")) == 1


def test_cancel_takes_effect_within_one_step(qtbot, make_worker):
    backend = FakeBackend(gated=True)
    worker, seen = make_worker(backend)
    worker.generate(request(steps=50))
    backend.release(3)
    qtbot.waitUntil(lambda: len(seen.named("progress")) == 3, timeout=TIMEOUT)
    worker.cancel_all()
    backend.release()
    qtbot.waitUntil(lambda: bool(seen.named("cancelled")), timeout=TIMEOUT)
    assert seen.named("cancelled") == [(1,)]
    assert backend.steps_run <= 4 and not seen.named("finished")


def test_a_job_cancelled_before_it_starts_never_runs(qtbot, make_worker):
    backend = FakeBackend()
    worker, seen = make_worker(backend)
    job = request()
    job.cancel.cancel()
    worker.generate(job)
    qtbot.waitUntil(lambda: bool(seen.named("cancelled")), timeout=TIMEOUT)
    assert backend.requests == []


@pytest.mark.parametrize("error, expected", [
    (RuntimeError("CUDA kernel exploded"), "The job failed (RuntimeError: CUDA kernel exploded)"),
    (MemoryError(), "Out of memory"),
    (ModelError("model.safetensors is damaged"), "model.safetensors is damaged"),
])
def test_a_failing_job_reports_a_message_and_the_worker_carries_on(qtbot, make_worker, error, expected):
    backend = FakeBackend(error=error)
    worker, seen = make_worker(backend)
    worker.generate(request())
    qtbot.waitUntil(lambda: bool(seen.named("failed")), timeout=TIMEOUT)
    [(job_id, message)] = seen.named("failed")
    assert job_id == 1 and expected in message
    backend.error = None
    worker.generate(request(job_id=2))
    qtbot.waitUntil(lambda: bool(seen.named("finished")), timeout=TIMEOUT)


def test_a_model_that_fails_to_load_is_reported(qtbot, make_worker):
    class Broken(FakeBackend):
        def load_model(self, path):
            raise ModelError("not a Stable Diffusion checkpoint")

    worker, seen = make_worker(Broken())
    worker.load_model("/x.safetensors")
    qtbot.waitUntil(lambda: bool(seen.named("model_failed")), timeout=TIMEOUT)
    assert seen.named("model_failed") == [("/x.safetensors", "not a Stable Diffusion checkpoint")]


def test_out_of_memory_errors_are_recognised_by_name():
    class OutOfMemoryError(RuntimeError):
        pass

    assert describe_error(OutOfMemoryError("CUDA out of memory")).startswith("Out of memory")
    assert describe_error(StudioError("plain")) == "plain"


def test_a_failing_warm_up_leaves_the_model_loaded(monkeypatch, tiny_model):
    """Warm-up only compiles ahead of time: when it fails (out of memory, say), the load still succeeds."""
    from studio.engine import speed
    from studio.ui.worker import EngineBackend

    def fail(model):
        raise RuntimeError("CUDA out of memory while compiling")

    monkeypatch.setattr(speed, "warm_up", fail)
    backend = EngineBackend()
    backend.load_model(str(tiny_model("sd1")))
    assert backend._loaded is not None
