"""Turning a sampler id into a fresh diffusers scheduler for one job."""

from __future__ import annotations

import diffusers

from studio.core.errors import StudioError
from studio.plugins.builtins import BUILTIN_SAMPLERS, SchedulerSampler


class UnknownSampler(StudioError):
    def __init__(self, sampler_id: str):
        super().__init__(f"unknown sampler '{sampler_id}'; available: {', '.join(sorted(BUILTIN_SAMPLERS))}")


def require_sampler(sampler_id: str) -> SchedulerSampler:
    sampler = BUILTIN_SAMPLERS.get(sampler_id)
    if sampler is None:
        raise UnknownSampler(sampler_id)
    return sampler


def sampler_label(sampler_id: str) -> str:
    sampler = BUILTIN_SAMPLERS.get(sampler_id)
    return sampler.label if sampler else sampler_id


def make_scheduler(sampler_id: str, base_config: dict):
    """The model's noise schedule and prediction type, with the sampler's algorithm."""
    sampler = require_sampler(sampler_id)
    return getattr(diffusers, sampler.scheduler).from_config(base_config, **sampler.options)
