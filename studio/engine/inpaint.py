"""Inpainting: repaint the masked part of a picture; every pixel where the mask is 0 stays bit-identical.

Inpainting checkpoints (9-channel UNet) see the masked picture; ordinary ones get the known region
re-imposed on the latents at every step (both done by diffusers' inpaint pipelines). The region plan
crops to the mask when asked, and the final composite at full resolution guarantees the untouched pixels.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from studio.core.errors import StudioError
from studio.core.masks import bounding_box, composite, refine
from studio.core.recipe import Recipe
from studio.core.regions import plan_region
from studio.engine.fill import prefill
from studio.engine.plugin_adapters import build_sampling_pipeline
from studio.engine.prompt_embeds import prompt_inputs
from studio.engine.task import TaskCall


class EmptyMask(StudioError):
    def __init__(self):
        super().__init__("the mask is empty: paint over the part of the picture that should change")


def run_pipeline(pipe, recipe: Recipe, seeds: list[int], hook, **inputs) -> list[np.ndarray]:
    """One diffusers call for a batch of seeds (one picture each, one forward pass for all) with the recipe's
    text and sampling settings; returns HxWx3 uint8 pictures in seed order."""
    generator = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
    with torch.inference_mode():
        output = pipe(
            # weighted/long prompts as embeddings; clip skip as diffusers' `clip_skip` or inside the embeddings
            **prompt_inputs(pipe, recipe.prompt, recipe.negative_prompt, recipe.clip_skip, recipe.embeddings),
            num_inference_steps=recipe.steps,
            guidance_scale=recipe.guidance,
            generator=generator,
            num_images_per_prompt=len(seeds),
            output_type="np",
            callback_on_step_end=hook,
            callback_on_step_end_tensor_inputs=["latents"],
            **inputs,
        )
    return [(np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8) for image in output.images]


def effective_mask(call: TaskCall, required: bool = True) -> np.ndarray | None:
    """The mask as the job uses it (grown, then feathered), or None when there is none and none is needed;
    an empty one is refused with a message, whatever the task and the model."""
    if call.mask is None:
        if required:
            raise EmptyMask()
        return None
    effective = refine(call.mask, call.recipe.mask_grow, call.recipe.mask_feather)
    if bounding_box(effective) is None:
        raise EmptyMask()
    return effective


def inpaint(call: TaskCall) -> list[np.ndarray]:
    recipe, picture, controls = call.recipe, call.picture, call.controls
    effective = effective_mask(call)
    height, width = picture.shape[:2]
    plan = plan_region((width, height), effective, recipe.inpaint_area, recipe.mask_padding, call.model.native_size, call.size)
    pipe = build_sampling_pipeline(call.model, "inpaint", recipe, controlnet=controls.controlnet if controls else None)
    hole = plan.cut(effective, Image.Resampling.BILINEAR)
    generated = run_pipeline(
        pipe, recipe, call.seeds, call.step_hook(),
        image=Image.fromarray(prefill(plan.cut(picture), hole, recipe.masked_content)),
        mask_image=Image.fromarray(hole),
        strength=recipe.strength,
        width=plan.size[0],
        height=plan.size[1],
        **(controls.pipeline_inputs(plan, "control_image") if controls else {}),
    )
    return [composite(picture, plan.put_back(picture, image), effective) for image in generated]
