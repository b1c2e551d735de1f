"""Where a job works on the picture and at what size: the whole picture or the masked region with padding,
expanded to the processing aspect (so nothing is distorted) at the model's resolution in multiples of 8."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from studio.core.masks import Box, bounding_box, crop, expand_to_aspect, pad_box, paste, shift_inside

GRID = 8  # the VAE downsamples by 8: sides must be multiples of it


@dataclass(frozen=True)
class RegionPlan:
    context: Box  # the part of the picture the model sees (may reach past the edges: they are repeated)
    size: tuple[int, int]  # processing width, height, multiples of GRID

    def cut(self, pixels: np.ndarray, resample: Image.Resampling = Image.Resampling.LANCZOS) -> np.ndarray:
        """The context box, resized to the processing size."""
        patch = crop(pixels, self.context)
        return np.asarray(Image.fromarray(patch).resize(self.size, resample))

    def put_back(self, canvas: np.ndarray, processed: np.ndarray) -> np.ndarray:
        """The processed patch resized to the context box and pasted onto a copy of the canvas."""
        patch = np.asarray(Image.fromarray(processed).resize((self.context.width, self.context.height), Image.Resampling.LANCZOS))
        return paste(canvas, patch, self.context)


def processing_size(aspect: float, native: int) -> tuple[int, int]:
    """Sides in multiples of GRID with about native² pixels and the given width/height ratio."""
    width = max(GRID, round(math.sqrt(native * native * aspect) / GRID) * GRID)
    height = max(GRID, round(math.sqrt(native * native / aspect) / GRID) * GRID)
    return width, height


def plan_region(
    picture_size: tuple[int, int],
    mask: np.ndarray | None,
    area: str,
    padding: int,
    native: int,
    size: tuple[int, int] | None = None,
) -> RegionPlan:
    """area "whole" works on the full picture; "masked" on the mask's bounding box grown by `padding`."""
    width, height = picture_size
    base = Box(0, 0, width, height)
    if area == "masked" and mask is not None and (box := bounding_box(mask)) is not None:
        base = pad_box(box, padding)
    target = size or processing_size(base.width / base.height, native)
    context = expand_to_aspect(base, target[0] / target[1])
    if area == "masked":
        context = shift_inside(context, width, height)
    return RegionPlan(context, target)
