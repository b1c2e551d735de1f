"""ControlNet generation: a new picture from the prompt, steered by control maps, at the picture's size."""

from __future__ import annotations

import numpy as np

from studio.core.cancel import CancelToken
from studio.core.errors import StudioError
from studio.core.recipe import Recipe
from studio.core.regions import plan_region
from studio.engine.inpaint import run_pipeline
from studio.engine.loading import LoadedModel
from studio.engine.plugin_adapters import build_sampling_pipeline
from studio.engine.progress import ProgressCallback, step_hook


def control_generate(
    model: LoadedModel,
    recipe: Recipe,
    picture: np.ndarray,
    mask: np.ndarray | None,
    seeds: list[int],
    item: int = 0,
    items: int = 1,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    controls=None,
) -> list[np.ndarray]:
    if controls is None:
        raise StudioError("task 'controlnet' needs at least one ControlNet unit")
    height, width = picture.shape[:2]
    size = (recipe.width, recipe.height) if recipe.width else None
    plan = plan_region((width, height), None, "whole", 0, model.native_size, size)
    pipe = build_sampling_pipeline(model, "controlnet", recipe, controlnet=controls.controlnet)
    generated = run_pipeline(
        pipe, recipe, seeds, step_hook(model.family, item, items, on_progress, cancel),
        width=plan.size[0], height=plan.size[1], **controls.pipeline_inputs(plan, "image"),
    )
    return [plan.put_back(picture, image) for image in generated]
