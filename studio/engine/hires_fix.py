"""AUTOMATIC1111's hires fix: generate at the model's own size, then enlarge the whole result and redraw it.

The second pass is SD upscaling (sd_upscale.py) with the job's model, prompts, sampler and guidance: Lanczos by
`hires.factor`, then SDEdit at `hires.strength` on latent tiles of the model's native size blended every step,
so a 2× or 4× picture keeps the composition of the first pass and gains detail without running out of memory.
The job's ControlNets steer both passes, tile by tile in the second, with maps made from their sources at its size.
Each picture of a batch gets its own second pass with its own seed. Progress counts both passes as one job.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from studio.engine.progress import Progress, ProgressCallback
from studio.engine.sd_upscale import enlarged_size, sd_upscale
from studio.engine.sdedit import img2img_steps
from studio.engine.task import TaskCall


def with_hires_fix(runner: Callable[[TaskCall], list[np.ndarray]], call: TaskCall) -> list[np.ndarray]:
    """The task's pictures, each given the recipe's second pass when it asks for one."""
    hires = call.recipe.hires
    if hires is None:
        return runner(call)
    enlarged_size(call.picture, hires.factor)  # too large for Studio: said before the first pass, not after
    counter = _PassCounter(call.on_progress, len(call.seeds), _second_pass_steps(call))
    first_progress = counter.first if call.on_progress is not None else None  # no previews made for no one
    pictures = runner(dataclasses.replace(call, on_progress=first_progress))
    return [_second_pass(call, seed, picture, counter.second(index))
            for index, (seed, picture) in enumerate(zip(call.seeds, pictures))]


def _second_pass_recipe(call: TaskCall, seed: int):
    recipe, hires = call.recipe, call.recipe.hires
    # dataclasses.replace: the task becomes an upscale of a picture in memory, which a recipe file would not name
    return dataclasses.replace(recipe, task="upscale", upscale_factor=hires.factor, strength=hires.strength,
                               steps=hires.steps or recipe.steps, seed=seed, variations=1, batch_seeds=None,
                               width=None, height=None, controlnets=(), hires=None)


def _second_pass(call: TaskCall, seed: int, picture: np.ndarray, on_progress: ProgressCallback | None) -> np.ndarray:
    # the ControlNets steer the second pass too, with maps remade at its size (sd_upscale)
    second = dataclasses.replace(call, recipe=_second_pass_recipe(call, seed), picture=picture, mask=None,
                                 seeds=[seed], on_progress=on_progress)
    return sd_upscale(second)[0]


def _second_pass_steps(call: TaskCall) -> int:
    """The steps the second pass will run (img2img starts `strength` of the way in), for the progress total."""
    recipe = _second_pass_recipe(call, call.seeds[0])
    return max(1, img2img_steps(recipe.steps, recipe.strength)) if recipe.strength > 0 else 0


class _PassCounter:
    """Reports the first pass and every picture's second pass as steps of one item."""

    def __init__(self, on_progress: ProgressCallback | None, pictures: int, second_steps: int):
        self.on_progress = on_progress
        self.pictures = pictures
        self.second_steps = second_steps
        self.first_steps = 0

    def first(self, progress: Progress) -> None:
        self.first_steps = progress.total
        self._report(progress, progress.step, progress.total + self.pictures * self.second_steps)

    def second(self, index: int) -> ProgressCallback | None:
        if self.on_progress is None:
            return None

        def report(progress: Progress) -> None:  # progress.total: the pipeline's own count of this pass
            done = self.first_steps + index * progress.total
            self._report(progress, done + progress.step, self.first_steps + self.pictures * progress.total)

        return report

    def _report(self, progress: Progress, step: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(dataclasses.replace(progress, step=step, total=total))
