"""SDEdit (img2img): push the picture `strength` of the way into the noise schedule, then denoise it back.

Whole picture, or only where a mask is painted: then the region plan and the final composite of
inpainting apply, so pixels outside the mask stay bit-identical. Strength 0 returns the input unchanged.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.core.errors import StudioError
from studio.core.masks import composite
from studio.core.recipe import Recipe
from studio.core.regions import plan_region
from studio.engine.fill import prefill
from studio.engine.inpaint import effective_mask, run_pipeline
from studio.engine.plugin_adapters import build_sampling_pipeline
from studio.engine.task import TaskCall


def sdedit_inputs(model, patch: np.ndarray, region: np.ndarray | None) -> tuple[str, dict]:
    """The pipeline an SDEdit runs in, and what it needs besides the picture. An inpainting checkpoint's UNet also
    reads a mask and the masked picture, so it runs in the inpainting pipeline, given the painted mask or, for the
    whole picture, a mask of everything (as AUTOMATIC1111 runs img2img with inpainting models)."""
    if not model.info.inpaint:
        return "sdedit", {}
    mask = region if region is not None else np.full(patch.shape[:2], 255, np.uint8)
    height, width = patch.shape[:2]
    return "inpaint", {"mask_image": Image.fromarray(mask), "height": height, "width": width}


def img2img_steps(steps: int, strength: float) -> int:
    """The denoising steps an img2img call runs: it starts `strength` of the way into the schedule (as diffusers
    does)."""
    return min(int(steps * strength), steps)


def require_a_step(recipe: Recipe) -> None:
    if img2img_steps(recipe.steps, recipe.strength) < 1:
        raise StudioError(f"strength {recipe.strength:g} of {recipe.steps} steps is less than one step: raise either")


def sdedit(call: TaskCall) -> list[np.ndarray]:
    recipe, picture, controls, seeds = call.recipe, call.picture, call.controls, call.seeds
    effective = effective_mask(call, required=False)
    if recipe.strength == 0.0:
        return [picture.copy() for _ in seeds]
    require_a_step(recipe)
    height, width = picture.shape[:2]
    area = recipe.inpaint_area if effective is not None else "whole"
    plan = plan_region((width, height), effective, area, recipe.mask_padding, call.model.native_size, call.size)
    patch = plan.cut(picture)
    region = plan.cut(effective, Image.Resampling.BILINEAR) if effective is not None else None
    if region is not None:  # the masked part may start from its surroundings instead of itself
        patch = prefill(patch, region, recipe.masked_content)
    task, extra = sdedit_inputs(call.model, patch, region)
    pipe = build_sampling_pipeline(call.model, task, recipe, controlnet=controls.controlnet if controls else None)
    generated = run_pipeline(
        pipe, recipe, seeds, call.step_hook(),
        image=Image.fromarray(patch),
        strength=recipe.strength,
        **extra,
        **(controls.pipeline_inputs(plan, "control_image") if controls else {}),
    )
    edited = [plan.put_back(picture, image) for image in generated]
    if effective is None:
        return edited
    return [composite(picture, image, effective) for image in edited]
