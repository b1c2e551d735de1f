"""The tasks on Studio's own starter models (studio/train): inpaint and SDEdit with the photo model, ×4 upscale
with the SR model. They take the same TaskCall as the Stable Diffusion tasks and keep the same promises: pixels
outside the mask stay bit-identical, progress with a preview every step, cancel before every UNet evaluation.

Starter models take no prompt, guidance or sampler: the recipe's steps, strength, seed, mask and tile settings
apply; the sampler is the model's own (DDIM, its η, RePaint resampling and manifold-constraint pull stored in
studio-starter.json).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from studio.core.errors import StudioError
from studio.core.masks import composite
from studio.core.regions import GRID, RegionPlan, plan_region
from studio.engine.fill import prefill
from studio.engine.inpaint import effective_mask
from studio.engine.progress import Progress
from studio.engine.task import TaskCall
from studio.train import starter_inference

MAX_SIDE_FACTOR = 4  # regions are processed at their own resolution, up to 4× the model's native side
PREVIEW_SIDE = 256


def _fit(width: int, height: int, limit: int) -> tuple[int, int]:
    """The box's own size, shrunk to fit `limit`, in multiples of GRID."""
    scale = min(1.0, limit / max(width, height))
    return (max(GRID, round(width * scale / GRID) * GRID), max(GRID, round(height * scale / GRID) * GRID))


def _plan(call: TaskCall, mask: np.ndarray | None, area: str) -> RegionPlan:
    """Like the SD tasks' plan, but at the region's own resolution where it is small enough: the starter
    models run at any size and were trained on crops at every zoom, so detail need not be resampled."""
    height, width = call.picture.shape[:2]
    native, padding = call.model.native_size, call.recipe.mask_padding
    if call.size is not None:
        return plan_region((width, height), mask, area, padding, native, call.size)
    first = plan_region((width, height), mask, area, padding, native)
    target = _fit(first.context.width, first.context.height, native * MAX_SIDE_FACTOR)
    return plan_region((width, height), mask, area, padding, native, target)


def _preview(denoised: torch.Tensor) -> np.ndarray:
    """The sampler's current estimate (1x3xHxW in [-1, 1]) as a small uint8 picture."""
    image = denoised[0].detach().float().cpu()
    stride = max(1, -(-max(image.shape[-2:]) // PREVIEW_SIDE))
    image = image[:, ::stride, ::stride]
    return ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _interrupt(call: TaskCall):
    """A starter_inference interrupt: cancel between UNet evaluations too, as one step can take seconds on a CPU."""
    return call.cancel.raise_if_cancelled if call.cancel is not None else None


def _reporter(call: TaskCall, offset: int):
    """A starter_inference callback: cancel between steps, progress with a preview after each."""

    def callback(info: dict) -> None:
        if call.cancel is not None:
            call.cancel.raise_if_cancelled()
        if call.on_progress is not None:
            call.on_progress(Progress(info["i"] + 1, info["total"], call.item + offset, call.items,
                                      _preview(info["denoised"])))

    return callback


def starter_inpaint(call: TaskCall) -> list[np.ndarray]:
    """Fill the mask. Strength 1 samples the region from noise (RePaint); below 1 it starts from the picture
    noised that far, as SDEdit limited to the mask."""
    recipe, picture = call.recipe, call.picture
    effective = effective_mask(call)
    plan = _plan(call, effective, recipe.inpaint_area)
    hole = plan.cut(effective, Image.Resampling.BILINEAR)
    patch = prefill(plan.cut(picture), hole, recipe.masked_content)
    results = []
    for offset, seed in enumerate(call.seeds):
        callback = _reporter(call, offset)
        if recipe.strength >= 1.0:
            filled = starter_inference.inpaint(call.model.starter, patch, hole, steps=recipe.steps, seed=seed,
                                               callback=callback, interrupt=_interrupt(call))
        else:
            filled = starter_inference.sdedit(call.model.starter, patch, strength=recipe.strength, steps=recipe.steps,
                                              seed=seed, mask=hole, callback=callback, interrupt=_interrupt(call))
        results.append(composite(picture, plan.put_back(picture, filled), effective))
    return results


def starter_sdedit(call: TaskCall) -> list[np.ndarray]:
    """The whole picture, or only the masked part when a mask is painted, pushed `strength` into the noise."""
    recipe, picture = call.recipe, call.picture
    effective = effective_mask(call, required=False)
    if recipe.strength == 0.0:
        return [picture.copy() for _ in call.seeds]
    if round(recipe.steps * recipe.strength) < 1:
        raise StudioError(f"strength {recipe.strength:g} of {recipe.steps} steps is less than one step: raise either")
    plan = _plan(call, effective, recipe.inpaint_area if effective is not None else "whole")
    hole = plan.cut(effective, Image.Resampling.BILINEAR) if effective is not None else None
    patch = plan.cut(picture) if hole is None else prefill(plan.cut(picture), hole, recipe.masked_content)
    results = []
    for offset, seed in enumerate(call.seeds):
        edited = starter_inference.sdedit(call.model.starter, patch, strength=recipe.strength, steps=recipe.steps,
                                          seed=seed, mask=hole, callback=_reporter(call, offset),
                                          interrupt=_interrupt(call))
        whole = plan.put_back(picture, edited)
        results.append(whole if effective is None else composite(picture, whole, effective))
    return results


def starter_upscale(call: TaskCall) -> list[np.ndarray]:
    """SR3 ×scale; the recipe's tile size and overlap are in pixels of the picture before upscaling, as for the
    Stable Diffusion upscaler, so memory stays flat whatever the picture's size."""
    recipe, starter = call.recipe, call.model.starter
    scale = int(starter.scale)
    return [
        starter_inference.upscale(starter, call.picture, steps=recipe.steps, seed=seed, tile=recipe.tile_size * scale,
                                  overlap=recipe.tile_overlap * scale, callback=_reporter(call, offset),
                                  interrupt=_interrupt(call))
        for offset, seed in enumerate(call.seeds)
    ]


STARTER_RUNNERS = {"inpaint": starter_inpaint, "sdedit": starter_sdedit, "upscale": starter_upscale}
