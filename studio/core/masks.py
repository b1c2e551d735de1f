"""Mask operations on uint8 arrays (0 = keep, 255 = repaint, grey = blend).

Grow/shrink, feather, the region around a mask, and the composite that puts generated pixels back so
that wherever the mask is 0 the picture stays bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Box:
    """A pixel rectangle [left, right) × [top, bottom); it may reach outside the picture."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _window_max(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Max over a window of 2*radius+1 along one axis, in O(log radius) array operations (doubling)."""
    if radius <= 0:
        return values
    rows = np.moveaxis(values, axis, 0)
    length, size = rows.shape[0], 2 * radius + 1
    result = np.pad(rows, [(radius, radius)] + [(0, 0)] * (rows.ndim - 1))
    span = 1
    while span * 2 <= size:  # result[i] = max(padded[i : i + 2*span])
        result = np.maximum(result[:-span], result[span:])
        span *= 2
    if span < size:  # two overlapping windows of `span` cover exactly `size`
        offset = size - span
        result = np.maximum(result[:-offset], result[offset:])
    return np.moveaxis(result[:length], 0, axis)


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) with a square of side 2*|pixels|+1."""
    if pixels == 0:
        return mask.copy()
    if pixels > 0:
        return _window_max(_window_max(mask, pixels, 0), pixels, 1)
    inverted = 255 - mask
    return 255 - _window_max(_window_max(inverted, -pixels, 0), -pixels, 1)


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soften the mask's edge with a Gaussian blur of the given radius (Pillow's)."""
    if radius <= 0:
        return mask.copy()
    blurred = Image.fromarray(mask, mode="L").filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, dtype=np.uint8).copy()


def refine(mask: np.ndarray, grow_pixels: int, feather_radius: float) -> np.ndarray:
    """The effective mask: grown or shrunk first, then feathered."""
    return feather(grow(mask, grow_pixels), feather_radius)


def bounding_box(mask: np.ndarray) -> Box | None:
    """The smallest box holding every non-zero pixel, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def expand_to_aspect(box: Box, aspect: float) -> Box:
    """Grow the shorter side of the box, about its centre, until width/height == aspect (to a pixel)."""
    width, height = box.width, box.height
    if width / height < aspect:
        width = max(width, round(height * aspect))
    else:
        height = max(height, round(width / aspect))
    left = box.left - (width - box.width) // 2
    top = box.top - (height - box.height) // 2
    return Box(left, top, left + width, top + height)


def pad_box(box: Box, padding: int) -> Box:
    return Box(box.left - padding, box.top - padding, box.right + padding, box.bottom + padding)


def shift_inside(box: Box, width: int, height: int) -> Box:
    """Move a box (not resize it) so that it lies inside the picture where it fits; centre it where it doesn't."""
    def axis(low: int, high: int, limit: int) -> tuple[int, int]:
        size = high - low
        if size >= limit:
            start = -((size - limit) // 2)
        else:
            start = min(max(low, 0), limit - size)
        return start, start + size

    left, right = axis(box.left, box.right, width)
    top, bottom = axis(box.top, box.bottom, height)
    return Box(left, top, right, bottom)


def crop(pixels: np.ndarray, box: Box) -> np.ndarray:
    """Cut a box out of an image array; parts outside the picture repeat its edge pixels."""
    height, width = pixels.shape[:2]
    pad_top, pad_left = max(0, -box.top), max(0, -box.left)
    pad_bottom, pad_right = max(0, box.bottom - height), max(0, box.right - width)
    inside = pixels[max(box.top, 0):min(box.bottom, height), max(box.left, 0):min(box.right, width)]
    if not (pad_top or pad_left or pad_bottom or pad_right):
        return inside.copy()
    pads = [(pad_top, pad_bottom), (pad_left, pad_right)] + [(0, 0)] * (pixels.ndim - 2)
    return np.pad(inside, pads, mode="edge")


def paste(canvas: np.ndarray, patch: np.ndarray, box: Box) -> np.ndarray:
    """Put a box-sized patch back onto a copy of the canvas, dropping what falls outside the picture."""
    out = canvas.copy()
    height, width = canvas.shape[:2]
    top, left = max(box.top, 0), max(box.left, 0)
    bottom, right = min(box.bottom, height), min(box.right, width)
    out[top:bottom, left:right] = patch[top - box.top:bottom - box.top, left - box.left:right - box.left]
    return out


def composite(original: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend generated over original by the mask: exactly the original where mask is 0, exactly generated at 255."""
    if original.shape != generated.shape:
        raise ValueError(f"picture {original.shape} and result {generated.shape} differ in size")
    alpha = mask.astype(np.uint32)[..., None]
    blended = (original.astype(np.uint32) * (255 - alpha) + generated.astype(np.uint32) * alpha + 127) // 255
    return blended.astype(np.uint8)
