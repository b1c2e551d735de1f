"""The pipeline's timestep read as a float without a host sync: a view into the scheduler's timesteps is read
from a host copy made once per schedule (again after an in-place rewrite); anything else is read directly."""

import pytest
import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler

from studio.engine.timestep_values import TimestepValues


@pytest.fixture
def no_tensor_reads(monkeypatch):
    """After this, turning a tensor into a Python number fails (the host copy must already exist)."""

    def forbid():
        def refuse(*_):
            raise AssertionError("a tensor was read on the host")

        monkeypatch.setattr(torch.Tensor, "__float__", refuse)
        monkeypatch.setattr(torch.Tensor, "item", refuse)
        monkeypatch.setattr(torch.Tensor, "tolist", refuse)

    return forbid


@pytest.mark.parametrize("scheduler_class", [DDIMScheduler, EulerDiscreteScheduler])  # int64 and float timesteps
def test_every_step_of_a_schedule_is_read_from_the_host_copy(scheduler_class, no_tensor_reads):
    scheduler = scheduler_class()
    scheduler.set_timesteps(10)
    expected = [float(t) for t in scheduler.timesteps]
    values = TimestepValues(scheduler)
    first = values(scheduler.timesteps[0])  # makes the copy
    no_tensor_reads()
    assert [first] + [values(t) for t in scheduler.timesteps[1:]] == expected


def test_a_slice_of_the_schedule_as_img2img_runs_it_is_read_by_position(no_tensor_reads):
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(20)
    expected = [float(t) for t in scheduler.timesteps[12:]]
    values = TimestepValues(scheduler)
    values(scheduler.timesteps[0])
    no_tensor_reads()
    assert [values(t) for t in scheduler.timesteps[12:]] == expected
    assert values(scheduler.timesteps[15].expand(2)) == expected[3], "the UNet's batch-expanded timestep"


def test_a_new_or_rewritten_schedule_is_copied_again():
    scheduler = EulerDiscreteScheduler()
    scheduler.set_timesteps(4)
    values = TimestepValues(scheduler)
    assert values(scheduler.timesteps[1]) == float(scheduler.timesteps[1])
    scheduler.timesteps[1:] = torch.tensor([500.0, 250.0, 5.0])  # in place, as the k-diffusion adapter replans
    assert values(scheduler.timesteps[1]) == 500.0
    scheduler.set_timesteps(8)
    assert values(scheduler.timesteps[7]) == float(scheduler.timesteps[7])


def test_other_timesteps_are_read_directly():
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(5)
    values = TimestepValues(scheduler)
    assert values(torch.tensor(321)) == 321.0, "a tensor of the pipeline's own"
    assert values(torch.tensor([7.5, 7.5])) == 7.5
    assert values(42) == 42.0
    assert TimestepValues()(torch.tensor(3.0)) == 3.0, "no scheduler yet"
    assert values(scheduler.timesteps.to(torch.float32)[2]) == float(scheduler.timesteps[2]), "a copy, not a view"


def test_a_schedule_made_in_inference_mode_is_refreshed_by_the_schedulers_revision():
    """Inference tensors keep no version counter: a scheduler rewriting its timesteps in place says so."""
    scheduler = EulerDiscreteScheduler()
    with torch.inference_mode():
        scheduler.set_timesteps(4)
        scheduler.timesteps_revision = 1
        values = TimestepValues(scheduler)
        assert values(scheduler.timesteps[2]) == float(scheduler.timesteps[2])
        scheduler.timesteps[2:] = torch.tensor([300.0, 3.0])
        scheduler.timesteps_revision += 1
        assert values(scheduler.timesteps[2]) == 300.0
