"""Running a k-diffusion-style sampling function inside a stock diffusers pipeline.

A plugin sampler is one function, `sample(model, x, sigmas, callback, options) -> x`, that calls the model
when it wants. A diffusers pipeline owns the loop instead: scale_model_input → UNet → scheduler.step, once per
entry of `scheduler.timesteps`. `KDiffusionScheduler` joins the two: the sampling function runs in a helper
thread and waits inside `model(x, sigma)`; each `step()` of the pipeline hands it the UNet's answer and returns
the next point it asks about as the pipeline's new latents. Its `timesteps` list every evaluation the sampler
will ask for, found beforehand by a dry run of the function on a one-element tensor. So every task's pipeline
(inpaint, img2img, ControlNet…) runs plugin samplers unchanged, masks, callbacks and cancel included.

Conventions are those of diffusers' Euler schedulers: the latents are in sigma space (x = x0 + sigma noise),
the model sees x / sqrt(1 + sigma^2) at the timestep of sigma, `add_noise` gives x0 + sigma noise.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import weakref
from typing import Any, Callable

import numpy as np
import torch
from diffusers import EulerDiscreteScheduler
from diffusers.configuration_utils import ConfigMixin
from diffusers.schedulers.scheduling_utils import SchedulerMixin, SchedulerOutput

from studio.engine.sigmas import NoiseSchedule
from studio.plugins.api import SamplerOptions
from studio.plugins.errors import PluginError

SIGMA_TOLERANCE = 1e-4  # relative: a requested noise level must be the announced one


class _Aborted(BaseException):
    """Raised inside the sampler thread when the job ends early (cancel, error): not an Exception, so that a
    plugin's own `except Exception` cannot swallow it."""


class PluginRuntimeError(Exception):
    """The sampling function misbehaved; `KDiffusionScheduler.on_failure` turns it into the user's error."""


_ABORT = object()


class _Channel:
    """The hand-over between the pipeline's thread and the sampler's. Holds no reference to the scheduler, so a
    scheduler dropped mid-job (cancel) is collected and its finalizer stops the thread."""

    def __init__(self):
        self.to_sampler: queue.Queue = queue.Queue()
        self.to_engine: queue.Queue = queue.Queue()
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.to_sampler.put(_ABORT)

    def ask(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        if self.aborted:
            raise _Aborted()
        self.to_engine.put(("eval", x, sigma))
        answer = self.to_sampler.get()
        if answer is _ABORT:
            raise _Aborted()
        return answer


def _as_float(sigma: Any) -> float:
    if isinstance(sigma, torch.Tensor):
        return float(sigma.flatten()[0])
    return float(sigma)


def dry_run(function: Callable, sigmas: torch.Tensor, params: dict) -> tuple[list[float], list[int]]:
    """The noise levels the sampler evaluates the model at, and how many evaluations each step makes (from its
    callbacks), found by running it on a one-element tensor with a model that answers zero."""
    evaluations: list[float] = []
    per_step: list[int] = []

    def model(x, sigma):
        evaluations.append(_as_float(sigma))
        return torch.zeros_like(x)

    def callback(info):
        per_step.append(len(evaluations) - sum(per_step))

    x = torch.zeros(1, 1, 1, 1, dtype=torch.float32)
    options = SamplerOptions(dict(params), lambda like: torch.zeros_like(like))
    with torch.no_grad():
        function(model, x * float(sigmas[0]), sigmas.clone(), callback, options)
    if not evaluations:
        raise PluginRuntimeError("it never evaluated the model")
    return evaluations, per_step


class KDiffusionScheduler(SchedulerMixin, ConfigMixin):
    """A diffusers-compatible scheduler around a k-diffusion-style sampling function (see the module doc)."""

    config_name = "scheduler_config.json"
    order = 1

    def __init__(
        self,
        function: Callable,
        name: str,
        params: dict,
        base_config: dict,
        schedule: str = "model",
        on_failure: Callable[[str], Exception] | None = None,
    ):
        self.register_to_config(**{k: v for k, v in base_config.items() if not k.startswith("_")})
        self.function = function
        self.name = name
        self.params = dict(params)
        self.schedule = schedule
        self.noise_schedule = NoiseSchedule.from_config(base_config)
        self.on_failure = on_failure or (lambda reason: PluginError(name, f"the sampler '{name}' failed: {reason}"))
        self.batch_doubled = False  # set by the engine: the pipeline runs cond and uncond in one batch
        self.num_inference_steps: int | None = None
        self.sigmas = torch.zeros(0)
        self.timesteps = torch.zeros(0)
        self.timesteps_revision = 0
        self.evaluation_sigmas: list[float] = []
        self._begin_index: int | None = None
        self._reset()

    # set-up ------------------------------------------------------------------------------------------------------

    def _reference_scheduler(self, steps: int) -> EulerDiscreteScheduler:
        options = {"use_karras_sigmas": self.schedule == "karras", "use_exponential_sigmas": self.schedule == "exponential"}
        reference = EulerDiscreteScheduler.from_config(dict(self.config), **options)
        reference.set_timesteps(steps)
        return reference

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None, **unused) -> None:
        self._reset()
        self.num_inference_steps = num_inference_steps
        self.sigmas = self._reference_scheduler(num_inference_steps).sigmas.to(torch.float32).cpu()
        self.evaluation_sigmas, per_step = self._guarded(lambda: dry_run(self.function, self.sigmas, self.params))
        self._plan = list(self.evaluation_sigmas)
        uniform = per_step and all(n == per_step[0] for n in per_step[:-1]) and per_step[-1] <= per_step[0]
        self.order = per_step[0] if uniform and len(per_step) == num_inference_steps else 1
        times = [self.noise_schedule.timestep_at(s) for s in self.evaluation_sigmas]
        self.timesteps = torch.tensor(times, dtype=torch.float32, device=device)
        self.timesteps_revision += 1  # tells the guided UNet's host copy of the timesteps to refresh
        self._begin_index = None

    def set_begin_index(self, begin_index: int = 0) -> None:
        """Start part-way (img2img and inpaint at strength below 1): the sampler runs on sigmas[start:]. Its
        evaluations may then differ from the full schedule's tail (EDM's churn depends on the step count):
        they are planned again and written into `timesteps` in place, since the pipeline holds a slice (a
        view) of it taken just before this call."""
        self._begin_index = begin_index
        self._plan = list(self.evaluation_sigmas[begin_index:])
        if not begin_index:
            return
        sigmas = self.sigmas[self._start_step():].clone()
        planned, _ = self._guarded(lambda: dry_run(self.function, sigmas, self.params))
        if len(planned) != len(self._plan):
            raise PluginError(
                self.name, f"the sampler '{self.name}' cannot start part-way through its schedule (strength below "
                "1): it does not report each step through its callback, or its steps evaluate the model unevenly",
            )
        if not _same_sigmas(planned, self._plan):
            times = [self.noise_schedule.timestep_at(s) for s in planned]
            self.timesteps[begin_index:] = torch.tensor(times, dtype=self.timesteps.dtype, device=self.timesteps.device)
            self.timesteps_revision += 1
            self._plan = planned

    @property
    def begin_index(self) -> int | None:
        return self._begin_index

    @property
    def init_noise_sigma(self) -> float:
        """As diffusers' Euler scheduler: sigma_max, or sqrt(sigma_max^2 + 1) for 'leading' spacing."""
        sigma = float(self.sigmas.max())
        if self.config.get("timestep_spacing", "linspace") in ("linspace", "trailing"):
            return sigma
        return (sigma * sigma + 1.0) ** 0.5

    def _start_step(self) -> int:
        """Which step of the schedule the job starts at (img2img and inpaint with strength below 1)."""
        begin = self._begin_index or 0
        return begin // max(self.order, 1)

    # the loop ----------------------------------------------------------------------------------------------------

    def _reset(self) -> None:
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.abort()
        self._channel: _Channel | None = None
        self._thread: threading.Thread | None = None
        self._index = 0  # evaluations answered so far
        self._plan: list[float] = []
        self._request: tuple[torch.Tensor, float] | None = None
        self._x_eval: torch.Tensor | None = None
        self._finished = False

    def _undouble(self, sample: torch.Tensor) -> torch.Tensor:
        if self.batch_doubled and sample.shape[0] % 2 == 0:
            return sample[: sample.shape[0] // 2]
        return sample

    def _redouble(self, sample: torch.Tensor) -> torch.Tensor:
        return torch.cat([sample, sample]) if self.batch_doubled else sample

    def _start(self, x: torch.Tensor) -> None:
        sigmas = self.sigmas[self._start_step():].clone()
        channel = _Channel()
        self._channel = channel
        weakref.finalize(self, channel.abort)
        generator = torch.Generator().manual_seed(_seed_of(x))

        def noise(like: torch.Tensor) -> torch.Tensor:
            drawn = torch.randn(like.shape, generator=generator, dtype=torch.float32)
            return drawn.to(device=like.device, dtype=like.dtype)

        options = SamplerOptions(dict(self.params), noise)
        modes = (torch.is_inference_mode_enabled(), torch.is_grad_enabled())
        self._thread = threading.Thread(
            target=_run_sampler, args=(channel, self.function, x.float(), sigmas.to(x.device), options, modes),
            name=f"sampler-{self.name}", daemon=True,
        )
        self._thread.start()
        self._receive()

    def _receive(self) -> None:
        """Wait for the sampler's next request (or its result) and check it against the plan."""
        while True:
            try:
                message = self._channel.to_engine.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise self.on_failure("its thread ended without a result") from None
        if message[0] == "error":
            error = message[1]
            reason = str(error) if isinstance(error, PluginRuntimeError) else f"raised {_short(error)}"
            raise self.on_failure(reason) from error
        if message[0] == "done":
            self._finished = True
            self._request = (message[1], 0.0)
            if self._index != len(self._plan):
                raise self.on_failure(f"finished after {self._index} model evaluations, but announced {len(self._plan)}")
            return
        _, x, sigma = message
        if self._index >= len(self._plan):
            self._channel.abort()
            raise self.on_failure(f"asked for more than the {len(self._plan)} model evaluations it announced")
        expected = self._plan[self._index]
        if abs(sigma - expected) > SIGMA_TOLERANCE * max(expected, 1e-3):
            self._channel.abort()
            raise self.on_failure(
                f"asked for the model at sigma {sigma:.5g} where its dry run asked for {expected:.5g} "
                "(noise levels must depend only on sigmas and parameters)"
            )
        self._request = (x, sigma)

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        if self._channel is None:
            self._start(self._undouble(sample))
            x_eval = self._request[0]  # the sampler may have moved x first (churn)
        else:
            x_eval = self._undouble(sample)  # the pipeline's latents: ours, or re-blended by inpainting
        if self._finished:
            raise self.on_failure("finished before the pipeline's last step")
        sigma = self._request[1]
        self._x_eval = x_eval.float()
        scaled = (x_eval.float() / (1.0 + sigma * sigma) ** 0.5).to(sample.dtype)
        return self._redouble(scaled)

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ):
        if self._x_eval is None:
            raise RuntimeError("scale_model_input must be called before step")
        x_eval, sigma = self._x_eval, self._request[1]
        scale = (1.0 + sigma * sigma) ** -0.5
        denoised = self.noise_schedule.to_denoised(model_output, x_eval * scale, sigma)
        self._x_eval = None
        self._index += 1
        self._channel.to_sampler.put(denoised)
        self._receive()
        x = self._request[0]
        if x.shape != sample.shape:
            self._channel.abort()
            raise self.on_failure(f"returned latents of shape {tuple(x.shape)} for latents of shape {tuple(sample.shape)}")
        prev_sample = x.to(sample.dtype)
        if not return_dict:
            return (prev_sample,)
        return SchedulerOutput(prev_sample=prev_sample)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x0 + sigma noise at the level the latents are at: the start of the job's schedule before the first
        step (img2img), the next evaluation's level after it (inpainting re-imposes the known region)."""
        if self._channel is None:
            sigma = float(self.sigmas[self._start_step()])
        else:
            sigma = self._request[1]
        return original_samples + noise * sigma

    def __len__(self) -> int:
        return self.config.num_train_timesteps

    def _guarded(self, action: Callable):
        try:
            return action()
        except PluginError:
            raise
        except Exception as error:
            reason = str(error) if isinstance(error, PluginRuntimeError) else f"raised {_short(error)}"
            raise self.on_failure(reason) from error


def _run_sampler(channel: _Channel, function: Callable, x, sigmas, options, modes) -> None:
    inference, grad = modes

    def model(x_request, sigma):
        if not isinstance(x_request, torch.Tensor):
            raise PluginRuntimeError(f"called the model with a {type(x_request).__name__}, not a tensor")
        return channel.ask(x_request, _as_float(sigma))

    try:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            result = function(model, x, sigmas, lambda info: None, options)
        if not isinstance(result, torch.Tensor):
            raise PluginRuntimeError(f"returned a {type(result).__name__}, not a tensor")
        channel.to_engine.put(("done", result))
    except _Aborted:
        return
    except BaseException as error:  # reported to the pipeline's thread, which raises it there
        channel.to_engine.put(("error", error))


def _seed_of(x: torch.Tensor) -> int:
    """A seed for the sampler's own noise, taken from the job's initial latents: the same recipe gives the
    same noise, another seed other noise, with no generator to thread through the pipeline."""
    data = x.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "little")


def _same_sigmas(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and np.allclose(a, b, rtol=SIGMA_TOLERANCE, atol=1e-6)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
