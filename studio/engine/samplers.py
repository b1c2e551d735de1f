"""The built-in samplers (diffusers' schedulers, not re-implemented), and sampler lookup through the registry.

Each built-in's manifest (studio/plugins/builtins.py) names `studio.engine.samplers:<id>` as its code, like a
plugin's; the factories are made from the same table, on first attribute access.
"""

from __future__ import annotations

from typing import Any, Callable

import diffusers

from studio.plugins.builtins import BUILTIN_SAMPLERS, SchedulerSampler
from studio.plugins.errors import PluginError
from studio.plugins.registry import PluginInfo, PluginRegistry, default_registry


class UnknownSampler(PluginError):
    def __init__(self, sampler_id: str, message: str):
        super().__init__(sampler_id, message)


def diffusers_factory(sampler: SchedulerSampler) -> Callable[[dict, dict], Any]:
    """A scheduler-style sampler implementation: `create(scheduler_config, params) -> scheduler`."""
    cls = getattr(diffusers, sampler.scheduler)

    def create(scheduler_config: dict, params: dict):
        options = dict(sampler.options)
        if "karras" in params:
            options["use_karras_sigmas"] = bool(params["karras"])
        return cls.from_config(scheduler_config, **options)

    create.__name__ = create.__qualname__ = sampler.id
    return create


_FACTORIES = {sampler_id: diffusers_factory(sampler) for sampler_id, sampler in BUILTIN_SAMPLERS.items()}


def __getattr__(name: str):
    """`studio.engine.samplers:euler` and so on: the implementations the built-in manifests name."""
    try:
        return _FACTORIES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def require_sampler(sampler_id: str, registry: PluginRegistry | None = None) -> PluginInfo:
    """The usable sampler `sampler_id` (built-in or plugin); a StudioError naming the problem otherwise."""
    registry = registry or default_registry()
    try:
        return registry.get("sampler", sampler_id)
    except PluginError as error:
        raise UnknownSampler(sampler_id, str(error)) from None


def sampler_label(sampler_id: str, registry: PluginRegistry | None = None) -> str:
    info = (registry or default_registry()).find(sampler_id, "sampler")
    return info.label if info else sampler_id


def make_scheduler(sampler_id: str, base_config: dict, params: dict | None = None, registry: PluginRegistry | None = None):
    """The model's noise schedule and prediction type, with the sampler's algorithm (no guidance wrapper:
    `studio.engine.plugin_adapters.prepare_sampling` gives both)."""
    from studio.engine.plugin_adapters import scheduler_for

    return scheduler_for(sampler_id, base_config, params or {}, registry or default_registry())
