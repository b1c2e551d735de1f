"""Parameter sweeps: a recipe's `sweep` lists and `variations` expand into a grid of single jobs.

The grid is deterministic (sweep axes in a fixed order, variations innermost), so a job's index names the
same job in every run: that is what makes interrupted batches resumable.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from studio.core.errors import RecipeError
from studio.core.recipe import SWEEPABLE, Recipe

MAX_JOBS = 100_000


@dataclass(frozen=True)
class Job:
    index: int
    recipe: Recipe  # a single job: variations 1, no sweep
    swept: dict[str, Any]  # the values this job takes on each swept axis, and its seed

    @property
    def seed(self) -> int:
        return self.recipe.seed


def _apply(recipe: Recipe, axis: str, value: Any, sweep: dict) -> Recipe:
    if axis == "controlnet_scale":
        if not recipe.controlnets:
            raise RecipeError("sweep.controlnet_scale", "the recipe has no ControlNet to scale")
        units = [dict(dataclasses.asdict(u), scale=value) for u in recipe.controlnets]
        return recipe.replace(controlnets=units)
    if axis == "prompt_sr":  # AUTOMATIC1111's Prompt S/R: every value in turn where the first one is written
        return _search_replace(recipe, sweep[axis][0], value)
    if axis == "lora_weight":  # every LoRA of the recipe at that weight, as controlnet_scale scales every unit
        if not recipe.loras:
            raise RecipeError("sweep.lora_weight", "the recipe has no LoRA to weigh")
        try:
            return recipe.replace(loras=[dict(dataclasses.asdict(lora), weight=value) for lora in recipe.loras])
        except RecipeError as error:
            raise RecipeError("sweep.lora_weight", error.reason) from None
    if axis == "hires_strength":  # A1111's X/Y plot "Denoising" with a hires fix
        if recipe.hires is None:
            raise RecipeError("sweep.hires_strength", "the recipe has no hires fix")
        try:
            return recipe.replace(hires=dict(dataclasses.asdict(recipe.hires), strength=value))
        except RecipeError as error:
            raise RecipeError("sweep.hires_strength", error.reason) from None
    try:
        return recipe.replace(**{axis: value})
    except RecipeError as error:
        raise RecipeError(f"sweep.{axis}", error.reason) from None


def _search_replace(recipe: Recipe, search: str, value: str) -> Recipe:
    if search not in recipe.prompt and search not in recipe.negative_prompt:
        raise RecipeError("sweep.prompt_sr", f"{search!r} (the first value) is in neither the prompt nor the negative "
                          "prompt: it is what each value replaces")
    return recipe.replace(prompt=recipe.prompt.replace(search, value),
                          negative_prompt=recipe.negative_prompt.replace(search, value))


def expand(recipe: Recipe) -> list[Job]:
    """Every job of the recipe: the product of its sweep axes, each with `variations` consecutive seeds."""
    axes = [axis for axis in SWEEPABLE if axis in recipe.sweep]
    grid = list(itertools.product(*(recipe.sweep[axis] for axis in axes)))
    count = len(grid) * recipe.variations
    if count > MAX_JOBS:
        raise RecipeError("sweep", f"asks for {count} jobs; at most {MAX_JOBS} per batch")
    base = recipe.replace(sweep={}, variations=1)
    jobs = []
    for values in grid:
        point = base
        for axis, value in zip(axes, values):
            point = _apply(point, axis, value, recipe.sweep)
        for offset in range(recipe.variations):
            seed = (point.seed + offset) % 2**32
            single = point.replace(seed=seed)
            swept = dict(zip(axes, values), seed=seed)
            jobs.append(Job(len(jobs), single, swept))
    return jobs
