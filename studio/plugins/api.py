"""What plugin code receives: the objects Studio passes to a sampler or a guidance plugin (plugin API 1).

Torch-free on purpose (tensors are typed `Any`): plugin manifests and this module are read without torch.
See docs/PLUGINS.md for the full contract with examples.

Samplers, style "k-diffusion" (one uniform signature, as in k-diffusion's sampling.py)::

    def sample(model, x, sigmas, callback, options) -> x
        model(x, sigma) -> denoised        # x = x0 + sigma * noise ("sigma space"); sigma a float
        sigmas                             # 1-D tensor, decreasing, last one 0
        callback({"i": i, "x": x, "sigma": s, "denoised": d})   # once per step, after its evaluations
        options: SamplerOptions            # parameters by name, and the job's noise

Samplers, style "scheduler": `create(scheduler_config: dict, params: dict) -> diffusers scheduler`.

Guidance: `guide(step: GuidanceStep) -> denoised`, the prediction used for the update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


@dataclass
class SamplerOptions:
    """The `options` argument of a k-diffusion-style sampler."""

    params: Mapping[str, Any]
    noise: Callable[[Any], Any]  # noise(x) -> standard normal tensor shaped like x, reproducible for the job's seed

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass
class GuidanceStep:
    """One model evaluation, handed to a guidance plugin. Everything is in "sigma space" (x = x0 + sigma * noise)
    and every prediction is a denoised one (the model's estimate of x0), whatever the model's parametrization."""

    x: Any  # the noisy latents, batch of B
    sigma: float
    scale: float  # the guidance scale of the recipe
    params: Mapping[str, Any]
    predictions: Mapping[str, Any]  # "cond" and, if declared in `needs`, "uncond": denoised, batch B each
    index: int  # which model evaluation of the job this is (0-based)
    state: dict = field(default_factory=dict)  # kept for the whole job: momentum, running averages…
    classifier_grad: Any = None  # gradient of log p(y | x) at x (classifier guidance), when the plugin declares one
    model: Callable[[Any, str], Any] | None = None  # model(x, "cond" | "uncond") -> denoised: extra evaluations

    @property
    def cond(self) -> Any:
        return self.predictions["cond"]

    @property
    def uncond(self) -> Any:
        return self.predictions["uncond"]
