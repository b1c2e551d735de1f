"""The one place a task gets its sampler and guidance: registry lookup, parameters, adapters, failure policy.

    pipe = build_sampling_pipeline(model, "inpaint", recipe)

builds the task's stock diffusers pipeline with the recipe's sampler as its scheduler (a diffusers scheduler,
or a k-diffusion-style function behind `KDiffusionScheduler`) and its UNet wrapped by `GuidedUNet` for the
recipe's guidance (the bare UNet when the guidance is exactly plain CFG: the pipeline's own formula, with no
per-step conversions and no host sync). A plugin that fails to import, raises while sampling or returns something
unusable is disabled in the registry with the reason, and the job ends with a `PluginFailed` (a StudioError)
naming it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from studio.core.recipe import Recipe
from studio.engine.guidance import GuidanceRunner, GuidedUNet
from studio.engine.kdiffusion import KDiffusionScheduler
from studio.engine.sigmas import NoiseSchedule
from studio.plugins.errors import PluginError
from studio.plugins.manifest import Manifest
from studio.plugins.registry import PluginRegistry, default_registry

SCHEDULER_METHODS = ("set_timesteps", "scale_model_input", "step", "add_noise")


@dataclass
class Sampling:
    """What a job samples with: give `scheduler` to the pipeline, then `install` the guided UNet into it."""

    scheduler: Any
    unet: GuidedUNet
    cfg_batch: bool  # the pipeline must evaluate cond and uncond in one batch
    sampler: Manifest
    guidance: Manifest
    scale: float
    plain_cfg: bool = False  # the guidance is exactly the stock pipeline's CFG

    @property
    def pipeline_unet(self):
        """What the pipeline should call: the bare UNet for plain CFG (the pipeline computes the same
        uncond + s * (cond - uncond) itself), else the guided wrapper."""
        return self.unet.unet if self.plain_cfg else self.unet

    def install(self, pipe):
        pipe.unet = self.pipeline_unet
        self.unet.timestep_values.scheduler = pipe.scheduler
        stock = self.scale > 1 and getattr(self.unet.config, "time_cond_proj_dim", None) is None
        if stock != self.cfg_batch:
            pipe.__class__ = _with_cfg_batch(type(pipe))
            pipe._studio_cfg_batch = self.cfg_batch
        return pipe


@functools.lru_cache(maxsize=None)
def _with_cfg_batch(cls: type) -> type:
    """The pipeline class with its cond+uncond decision taken from the guidance (the stock one runs the
    unconditional branch only for scales above 1; other guidance types may need it at any scale)."""
    return type(cls.__name__, (cls,), {"do_classifier_free_guidance": property(lambda self: self._studio_cfg_batch)})


def _failure(registry: PluginRegistry, kind: str, name: str, builtin: bool):
    def fail(reason: str) -> Exception:
        if builtin:
            return PluginError(name, f"the built-in {kind} '{name}' failed: {reason}")
        return registry.mark_failed(kind, name, reason)

    return fail


def _guard_methods(scheduler: Any, fail) -> Any:
    """A third-party scheduler's errors become the plugin's failure (signatures kept: pipelines inspect them)."""
    for method in SCHEDULER_METHODS:
        original = getattr(scheduler, method, None)
        if original is None:
            raise fail(f"its scheduler has no {method}()")

        @functools.wraps(original)
        def guarded(*args, __original=original, __method=method, **kwargs):
            try:
                return __original(*args, **kwargs)
            except Exception as error:
                text = str(error).strip().splitlines()
                raise fail(f"{__method}() raised {type(error).__name__}" + (f": {text[0]}" if text else "")) from error

        setattr(scheduler, method, guarded)
    return scheduler


def scheduler_for(name: str, scheduler_config: dict, params: dict, registry: PluginRegistry) -> Any:
    manifest = registry.manifest("sampler", name)
    info = registry.get("sampler", name)
    builtin = info.origin == "builtin"
    fail = _failure(registry, "sampler", name, builtin)
    resolved = manifest.resolve(params)
    implementation = registry.implementation("sampler", name)
    if manifest.style == "k-diffusion":
        return KDiffusionScheduler(implementation, name, resolved, dict(scheduler_config), manifest.schedule, fail)
    try:
        scheduler = implementation(dict(scheduler_config), resolved)
    except Exception as error:
        if builtin:
            raise
        raise fail(f"could not make its scheduler ({type(error).__name__}: {error})") from error
    return scheduler if builtin else _guard_methods(scheduler, fail)


def cfg_batch_needed(manifest: Manifest, scale: float, unet: Any) -> bool:
    """Whether the unconditional prediction is needed: the guidance declares it, the scale is not the one at
    which the guidance is the conditional prediction, and the UNet is not guidance-distilled."""
    if "uncond" not in manifest.needs:
        return False
    if getattr(unet.config, "time_cond_proj_dim", None) is not None:
        return False
    return manifest.neutral_scale is None or float(scale) != manifest.neutral_scale


def is_plain_cfg(manifest: Manifest, params: dict, builtin: bool) -> bool:
    """A built-in guidance that computes exactly classifier-free guidance with these parameters."""
    if not builtin:
        return False  # a plugin's function runs even where it claims to equal CFG: it may keep state or check
    if manifest.name == "cfg":
        return True
    return bool(manifest.cfg_equivalent) and all(params.get(k) == v for k, v in manifest.cfg_equivalent.items())


def sampling_for(
    scheduler_config: dict,
    unet: Any,
    sampler: str,
    sampler_params: dict | None = None,
    guidance_type: str = "cfg",
    guidance_params: dict | None = None,
    scale: float = 7.5,
    registry: PluginRegistry | None = None,
) -> Sampling:
    """The scheduler and guided UNet for one job (the conformance check calls this too, with an exact model)."""
    registry = registry or default_registry()
    scheduler = scheduler_for(sampler, scheduler_config, sampler_params or {}, registry)
    sampler_manifest = registry.manifest("sampler", sampler)
    guidance = registry.manifest("guidance", guidance_type)
    params = guidance.resolve(guidance_params)
    guide = registry.implementation("guidance", guidance_type)
    classifier = registry.classifier("guidance", guidance_type)
    builtin = registry.get("guidance", guidance_type).origin == "builtin"
    fail = _failure(registry, "guidance", guidance_type, builtin)
    batch = cfg_batch_needed(guidance, scale, unet)
    if isinstance(scheduler, KDiffusionScheduler):
        scheduler.batch_doubled = batch
    runner = GuidanceRunner(guidance_type, guide, params, scale, guidance.needs, classifier, fail)
    guided = GuidedUNet(unet, runner, NoiseSchedule.from_config(dict(scheduler_config)), batch)
    return Sampling(scheduler, guided, batch, sampler_manifest, guidance, float(scale),
                    is_plain_cfg(guidance, params, builtin))


def prepare_sampling(model, recipe: Recipe, registry: PluginRegistry | None = None) -> Sampling:
    return sampling_for(
        model.scheduler_config, model.components["unet"], recipe.sampler, recipe.sampler_params,
        recipe.guidance_type, recipe.guidance_params, recipe.guidance, registry,
    )


def build_sampling_pipeline(model, task: str, recipe: Recipe, registry: PluginRegistry | None = None, controlnet=None):
    """The task's stock pipeline (with its ControlNets, if any), sampling with the recipe's sampler and guidance."""
    from studio.engine.pipelines import build_pipeline

    sampling = prepare_sampling(model, recipe, registry)
    return sampling.install(build_pipeline(model, task, sampling.scheduler, controlnet))


def check_recipe_plugins(recipe: Recipe, registry: PluginRegistry | None = None) -> None:
    """Fail fast, before any model loads: the recipe's sampler and guidance exist, are usable, and their
    parameters are valid (a StudioError naming the problem otherwise)."""
    registry = registry or default_registry()
    registry.manifest("sampler", recipe.sampler).resolve(recipe.sampler_params)
    registry.manifest("guidance", recipe.guidance_type).resolve(recipe.guidance_params)
