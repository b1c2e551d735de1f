"""Sampler ids (as AUTOMATIC1111, ComfyUI and InvokeAI name them) mapped onto diffusers' schedulers."""

from __future__ import annotations

from dataclasses import dataclass, field

import diffusers

from studio.core.errors import StudioError


@dataclass(frozen=True)
class BuiltinSampler:
    id: str
    label: str  # AUTOMATIC1111's name, written into the `parameters` metadata
    scheduler: str  # diffusers class name
    options: dict = field(default_factory=dict)


BUILTIN_SAMPLERS = {
    s.id: s
    for s in (
        BuiltinSampler("ddim", "DDIM", "DDIMScheduler"),
        BuiltinSampler("ddpm", "DDPM", "DDPMScheduler"),
        BuiltinSampler("euler", "Euler", "EulerDiscreteScheduler"),
        BuiltinSampler("euler_a", "Euler a", "EulerAncestralDiscreteScheduler"),
        BuiltinSampler("heun", "Heun", "HeunDiscreteScheduler"),
        BuiltinSampler("lms", "LMS", "LMSDiscreteScheduler"),
        BuiltinSampler("dpmpp_2m", "DPM++ 2M", "DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
        BuiltinSampler(
            "dpmpp_2m_karras", "DPM++ 2M Karras", "DPMSolverMultistepScheduler",
            {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        ),
        BuiltinSampler("dpmpp_2m_sde", "DPM++ 2M SDE", "DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}),
        BuiltinSampler("unipc", "UniPC", "UniPCMultistepScheduler"),
        BuiltinSampler("lcm", "LCM", "LCMScheduler"),
    )
}


class UnknownSampler(StudioError):
    def __init__(self, sampler_id: str):
        super().__init__(f"unknown sampler '{sampler_id}'; available: {', '.join(sorted(BUILTIN_SAMPLERS))}")


def sampler_label(sampler_id: str) -> str:
    sampler = BUILTIN_SAMPLERS.get(sampler_id)
    return sampler.label if sampler else sampler_id


def require_sampler(sampler_id: str) -> BuiltinSampler:
    sampler = BUILTIN_SAMPLERS.get(sampler_id)
    if sampler is None:
        raise UnknownSampler(sampler_id)
    return sampler


def make_scheduler(sampler_id: str, base_config: dict):
    """A fresh scheduler for one job: the model's noise schedule and prediction type, the sampler's algorithm."""
    sampler = require_sampler(sampler_id)
    cls = getattr(diffusers, sampler.scheduler)
    return cls.from_config(base_config, **sampler.options)
