"""Memory policy: chosen from free memory, lowered and retried on out-of-memory, then a clear message."""

import pytest
import torch

from studio.core.recipe import parse_recipe
from studio.engine import jobs
from studio.engine.memory import POLICIES, choose_policy, is_out_of_memory, lower_policy
from tests.fixtures.pictures import write_mask, write_picture


def test_policies_go_down_in_order():
    assert [lower_policy(p) for p in POLICIES] == ["model_offload", "sequential_offload", None]
    assert choose_policy(torch.device("cpu"), 10**12) == "gpu"


def test_out_of_memory_errors_are_recognised():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not is_out_of_memory(RuntimeError("shapes do not match"))


@pytest.fixture
def recipe(tiny_model, tmp_path):
    picture = write_picture(tmp_path / "p.png", 64, 64)
    mask = write_mask(tmp_path / "m.png", 64, 64, (8, 8, 40, 40))
    return parse_recipe({"task": "inpaint", "model": str(tiny_model("sd1")), "image": str(picture),
                         "mask": str(mask), "steps": 2, "width": 64, "height": 64})


@pytest.fixture
def own_store():
    """A store of its own: these tests change the loaded model's memory policy."""
    from studio.engine.model_store import ModelStore

    return ModelStore(device=torch.device("cpu"), dtype=torch.float32)


def failing_runner(real, failures: int, seen: list):
    """A runner that runs out of GPU memory `failures` times, recording the policy of each attempt."""

    def run(call):
        seen.append(call.model.memory_policy)
        if len(seen) <= failures:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(call)

    return run


def test_a_job_that_runs_out_of_memory_is_retried_one_policy_lower(recipe, own_store, monkeypatch):
    seen = []
    monkeypatch.setitem(jobs.TASK_RUNNERS, "inpaint", failing_runner(jobs.inpaint, 1, seen))
    [result] = jobs.run_recipe(recipe, own_store)
    assert seen == ["gpu", "model_offload"]
    assert result.pixels.shape == (64, 64, 3)


def test_out_of_memory_at_the_lowest_policy_is_a_clear_message(recipe, own_store, monkeypatch):
    seen = []
    monkeypatch.setitem(jobs.TASK_RUNNERS, "inpaint", failing_runner(jobs.inpaint, 99, seen))
    with pytest.raises(jobs.OutOfMemory, match="out of GPU memory even with sequential offload"):
        jobs.run_recipe(recipe, own_store)
    assert seen == list(POLICIES)


@pytest.mark.parametrize("error", [MemoryError(),
                                   RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 9 GB")])
def test_running_out_of_the_computers_own_memory_ends_the_job_at_once(recipe, own_store, monkeypatch, error):
    """Lower GPU policies offload to that same memory: retrying would only take longer and fail again."""
    attempts = []

    def run(call):
        attempts.append(call.model.memory_policy)
        raise error

    monkeypatch.setitem(jobs.TASK_RUNNERS, "inpaint", run)
    with pytest.raises(jobs.OutOfMemory, match=r"out of memory \(RAM\)"):
        jobs.run_recipe(recipe, own_store)
    assert attempts == ["gpu"]
