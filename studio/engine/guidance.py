"""Guidance: the built-in guidance types, and the UNet wrapper that applies any guidance inside stock pipelines.

A diffusers pipeline runs the UNet once on [uncond, cond] and computes uncond + s * (cond - uncond) itself.
`GuidedUNet` runs the real UNet, hands both predictions (as denoised estimates, in sigma space) to the guidance
plugin with the step's noise level, and returns the plugin's answer in both halves: the pipeline's own formula
then gives exactly that answer (c + s * (c - c) = c), so every task's pipeline uses any guidance unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

from studio.engine.sigmas import NoiseSchedule
from studio.engine.timestep_values import TimestepValues
from studio.plugins.api import GuidanceStep

# built-in guidance types (named by their manifests in studio/plugins/builtins.py) ---------------------------------


def cfg(step: GuidanceStep) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022)."""
    return step.uncond + step.scale * (step.cond - step.uncond)


def _rows_std(t: torch.Tensor) -> torch.Tensor:
    """Standard deviation of each sample (torch.std's Welford loop is an order of magnitude slower)."""
    rows = t.flatten(1)
    centred = rows - rows.mean(dim=1, keepdim=True)
    std = (centred.square().sum(dim=1) / max(rows.shape[1] - 1, 1)).sqrt()
    return std.view(-1, *([1] * (t.dim() - 1)))


def cfg_rescale(step: GuidanceStep) -> torch.Tensor:
    """CFG rescaled towards the conditional prediction's standard deviation (Lin et al. 2023, Algorithm 2).

    As in the paper (whose model predicts v) and ComfyUI's RescaleCFG, the rescale is done on v-predictions,
    whatever the model predicts: x0 predictions of an eps model would shrink towards zero at high noise."""
    sigma = step.sigma
    scale = (1.0 + sigma * sigma) ** -0.5
    x_in = step.x * scale

    def as_v(denoised: torch.Tensor) -> torch.Tensor:
        return (scale * x_in - denoised) / (sigma * scale)

    v_cond, v_uncond = as_v(step.cond), as_v(step.uncond)
    v_cfg = v_uncond + step.scale * (v_cond - v_uncond)
    factor = _rows_std(v_cond) / _rows_std(v_cfg).clamp_min(1e-12)
    rescale = float(step.params["rescale"])
    v = v_cfg * (rescale * factor + (1.0 - rescale))
    return scale * x_in - sigma * scale * v


def interval(step: GuidanceStep) -> torch.Tensor:
    """Guidance only for noise levels in (sigma_low, sigma_high] (Kynkäänniemi et al. 2024); elsewhere the
    conditional prediction (guidance scale 1)."""
    if step.params["sigma_low"] < step.sigma <= step.params["sigma_high"]:
        return cfg(step)
    return step.cond


# the wrapper ------------------------------------------------------------------------------------------------------


class GuidanceRunner:
    """One job's guidance: the plugin function, its parameters and per-job state, and the failure policy."""

    def __init__(
        self,
        name: str,
        guide: Callable[[GuidanceStep], torch.Tensor],
        params: Mapping[str, Any],
        scale: float,
        needs: tuple[str, ...],
        classifier: Callable | None = None,
        on_failure: Callable[[str], Exception] | None = None,
    ):
        self.name = name
        self.guide = guide
        self.params = dict(params)
        self.scale = float(scale)
        self.needs = tuple(needs)
        self.classifier = classifier
        self.on_failure = on_failure or (lambda reason: RuntimeError(f"guidance '{name}' failed: {reason}"))
        self.state: dict = {}
        self.index = 0

    def classifier_grad(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """The gradient of the plugin's log p(y | x) at x, with autograd on even inside inference mode."""
        with torch.inference_mode(False), torch.enable_grad():
            leaf = x.detach().clone().requires_grad_(True)
            log_prob = self.classifier(leaf, sigma, self.params)
            (grad,) = torch.autograd.grad(log_prob.sum(), leaf)
        return grad.detach()

    def __call__(self, x: torch.Tensor, sigma: float, predictions: dict, model: Callable | None = None) -> torch.Tensor:
        step = GuidanceStep(x, sigma, self.scale, self.params, predictions, self.index, self.state, None, model)
        self.index += 1
        try:
            if self.classifier is not None:
                step.classifier_grad = self.classifier_grad(x, sigma)
            guided = self.guide(step)
        except Exception as error:
            text = str(error).strip().splitlines()
            raise self.on_failure(f"raised {type(error).__name__}" + (f": {text[0]}" if text else "")) from error
        if not isinstance(guided, torch.Tensor) or guided.shape != x.shape:
            shape = tuple(guided.shape) if isinstance(guided, torch.Tensor) else type(guided).__name__
            raise self.on_failure(f"returned {shape} for latents of shape {tuple(x.shape)}")
        return guided


def _half(value: Any, half: int, rows: int) -> Any:
    """The cond (half=1) or uncond (half=0) part of a batched UNet argument."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == rows:
        return value.chunk(2)[half]
    if isinstance(value, dict):
        return {k: _half(v, half, rows) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # a ControlNet's down-block residuals
        return type(value)(_half(v, half, rows) for v in value)
    return value


class GuidedUNet(torch.nn.Module):
    """The UNet, with the job's guidance applied to its output (see the module doc). Everything a pipeline asks
    of a UNet (config, dtype, device, add_embedding…) is the wrapped UNet's."""

    def __init__(self, unet: torch.nn.Module, runner: GuidanceRunner, schedule: NoiseSchedule, cfg_batch: bool):
        super().__init__()
        self.unet = unet
        self.runner = runner
        self.schedule = schedule
        self.cfg_batch = cfg_batch
        self.timestep_values = TimestepValues()  # Sampling.install gives it the pipeline's scheduler

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["unet"], name)

    @property
    def passthrough(self) -> bool:
        """No guidance to apply: a single conditional batch, and a guidance type that needs the unconditional."""
        return not self.cfg_batch and "uncond" in self.runner.needs

    def forward(self, sample: torch.Tensor, timestep: Any, *args, return_dict: bool = True, **kwargs):
        output = self.unet(sample, timestep, *args, return_dict=False, **kwargs)[0]
        if not self.passthrough:
            output = self._guided(output, sample, timestep, args, kwargs)
        return UNet2DConditionOutput(sample=output) if return_dict else (output,)

    def _guided(self, output: torch.Tensor, sample: torch.Tensor, timestep: Any, args: tuple, kwargs: dict) -> torch.Tensor:
        sigma = self.schedule.sigma_at(self.timestep_values(timestep))
        channels = output.shape[1]
        model_input = sample[:, :channels]  # inpainting UNets also see the mask and the masked picture
        if self.cfg_batch:
            uncond_out, cond_out = output.chunk(2)
            model_input = model_input.chunk(2)[1]
            predictions = {
                "uncond": self.schedule.to_denoised(uncond_out, model_input, sigma),
                "cond": self.schedule.to_denoised(cond_out, model_input, sigma),
            }
        else:
            predictions = {"cond": self.schedule.to_denoised(output, model_input, sigma)}
        x = model_input.float() * (1.0 + sigma * sigma) ** 0.5
        evaluate = self._evaluator(sample, timestep, args, kwargs, sigma)
        guided = self.runner(x, sigma, predictions, evaluate)
        result = self.schedule.from_denoised(guided, model_input, sigma).to(output.dtype)
        return torch.cat([result, result]) if self.cfg_batch else result

    def _evaluator(self, sample, timestep, args, kwargs, sigma) -> Callable[[torch.Tensor, str], torch.Tensor]:
        """model(x, "cond" | "uncond") -> denoised: another evaluation of the UNet with the same conditioning."""
        rows = sample.shape[0]

        def evaluate(x: torch.Tensor, which: str = "cond") -> torch.Tensor:
            if which not in ("cond", "uncond") or (which == "uncond" and not self.cfg_batch):
                raise ValueError(f"no '{which}' conditioning in this job")
            half = 1 if which == "cond" else 0
            part = _half(sample, half, rows) if self.cfg_batch else sample
            scaled = (x.float() * (1.0 + sigma * sigma) ** -0.5).to(part.dtype)
            model_input = torch.cat([scaled, part[:, scaled.shape[1]:]], dim=1)
            pick = (lambda v: _half(v, half, rows)) if self.cfg_batch else (lambda v: v)
            out = self.unet(model_input, timestep, *[pick(a) for a in args], return_dict=False,
                            **{k: pick(v) for k, v in kwargs.items()})[0]
            return self.schedule.to_denoised(out, scaled, sigma)

        return evaluate
