"""What every task function (inpaint, SDEdit, ControlNet generation, upscale) is given for one group of seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.core.cancel import CancelToken
from studio.core.recipe import Recipe
from studio.engine.loading import LoadedModel
from studio.engine.progress import ProgressCallback, step_hook


@dataclass
class TaskCall:
    model: LoadedModel
    recipe: Recipe
    picture: np.ndarray  # HxWx3 uint8
    mask: np.ndarray | None  # HxW uint8
    seeds: list[int]  # one picture each, computed together
    item: int = 0  # index of the first picture among the job's variations
    items: int = 1
    on_progress: ProgressCallback | None = None
    cancel: CancelToken | None = None
    controls: object | None = None  # engine.controlnet.Controls

    @property
    def size(self) -> tuple[int, int] | None:
        """The processing size the recipe asks for, or None to follow the model's native size."""
        return (self.recipe.width, self.recipe.height) if self.recipe.width else None

    def step_hook(self):
        return step_hook(self.model.family, self.item, self.items, self.on_progress, self.cancel)
