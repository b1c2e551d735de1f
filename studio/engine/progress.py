"""What a running job reports, and the hook that reports it from inside a diffusers pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from studio.core.cancel import CancelToken
from studio.engine.preview import latents_to_preview


@dataclass(frozen=True)
class Progress:
    step: int  # steps done in this item, 1-based
    total: int  # steps in this item
    item: int  # which variation, 0-based
    items: int
    preview: np.ndarray | None = None  # HxWx3 uint8, 1/8 of the output size
    tile: int = 1  # tiles done within this step, when the job works in tiles
    tiles: int = 1

    @property
    def fraction(self) -> float:
        within = (self.step - 1 + self.tile / max(self.tiles, 1)) / max(self.total, 1)
        return (self.item + within) / max(self.items, 1)


ProgressCallback = Callable[[Progress], None]


def step_hook(family: str, item: int, items: int, on_progress: ProgressCallback | None, cancel: CancelToken | None):
    """A diffusers `callback_on_step_end`: reports the step with a preview, and stops the loop on cancel."""

    def hook(pipe, index, timestep, tensors):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if on_progress is not None:
            latents = tensors.get("latents")
            preview = latents_to_preview(latents, family) if latents is not None else None
            on_progress(Progress(index + 1, pipe.num_timesteps, item, items, preview))
        return {}

    return hook
