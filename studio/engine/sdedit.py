"""SDEdit (img2img): push the picture `strength` of the way into the noise schedule, then denoise it back.

Whole picture, or only where a mask is painted: then the region plan and the final composite of
inpainting apply, so pixels outside the mask stay bit-identical. Strength 0 returns the input unchanged.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.core.errors import StudioError
from studio.core.masks import composite
from studio.core.regions import plan_region
from studio.engine.fill import prefill
from studio.engine.inpaint import effective_mask, run_pipeline
from studio.engine.plugin_adapters import build_sampling_pipeline
from studio.engine.task import TaskCall


def sdedit(call: TaskCall) -> list[np.ndarray]:
    recipe, picture, controls, seeds = call.recipe, call.picture, call.controls, call.seeds
    effective = effective_mask(call, required=False)
    if recipe.strength == 0.0:
        return [picture.copy() for _ in seeds]
    if int(recipe.steps * recipe.strength) < 1:
        raise StudioError(f"strength {recipe.strength:g} of {recipe.steps} steps is less than one step: raise either")
    height, width = picture.shape[:2]
    area = recipe.inpaint_area if effective is not None else "whole"
    plan = plan_region((width, height), effective, area, recipe.mask_padding, call.model.native_size, call.size)
    pipe = build_sampling_pipeline(call.model, "sdedit", recipe, controlnet=controls.controlnet if controls else None)
    patch = plan.cut(picture)
    if effective is not None:  # the masked part may start from its surroundings instead of itself
        patch = prefill(patch, plan.cut(effective, Image.Resampling.BILINEAR), recipe.masked_content)
    generated = run_pipeline(
        pipe, recipe, seeds, call.step_hook(),
        image=Image.fromarray(patch),
        strength=recipe.strength,
        **(controls.pipeline_inputs(plan, "control_image") if controls else {}),
    )
    edited = [plan.put_back(picture, image) for image in generated]
    if effective is None:
        return edited
    return [composite(picture, image, effective) for image in edited]
