"""Mask painting: a round brush stamped as dabs into a uint8 mask (0 = keep, 255 = repaint).

A dab covers the pixels whose centres lie within the brush radius; hardness sets where the smooth falloff
begins (1 = a crisp disc, 0 = a falloff from the centre). Opacity is the ceiling of one stroke, as in
Krita and Photoshop: overlapping dabs of the same stroke never build up past it.

A stroke keeps the mask as it was before the stroke in tiles, created only where the brush passes, so the
cost of painting follows the area touched and never the size of the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from studio.core.masks import Box

TILE = 64
MIN_SIZE = 1.0
MAX_SIZE = 4096.0


@dataclass(frozen=True)
class Brush:
    size: float = 64.0  # diameter in picture pixels
    hardness: float = 0.8  # 0..1: the fraction of the radius painted at full strength
    opacity: float = 1.0  # 0..1: the most one stroke adds (or removes)
    erase: bool = False
    spacing: float = 0.1  # distance between dabs, as a fraction of the diameter (at least one pixel)
    color: tuple[int, int, int] | None = None  # on a colour layer: paint this colour (None: white, as on maps)

    @property
    def radius(self) -> float:
        return self.size / 2.0

    @property
    def step(self) -> float:
        return max(1.0, self.spacing * self.size)

    def resized(self, size: float) -> "Brush":
        return replace(self, size=min(MAX_SIZE, max(MIN_SIZE, float(size))))


def bigger(size: float) -> float:
    """The next size up for `]`: about 15% larger, at least one pixel."""
    return min(MAX_SIZE, max(size + 1.0, round(size * 1.15)))


def smaller(size: float) -> float:
    """The next size down for `[`."""
    return max(MIN_SIZE, min(size - 1.0, round(size / 1.15)))


def union(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return Box(min(a.left, b.left), min(a.top, b.top), max(a.right, b.right), max(a.bottom, b.bottom))


def intersect(a: Box, b: Box) -> Box | None:
    box = Box(max(a.left, b.left), max(a.top, b.top), min(a.right, b.right), min(a.bottom, b.bottom))
    return box if box.width > 0 and box.height > 0 else None


def dab_box(x: float, y: float, radius: float, width: int, height: int) -> Box | None:
    """The pixels a dab centred at (x, y) can reach, clipped to the picture."""
    reach = Box(math.floor(x - radius), math.floor(y - radius), math.floor(x + radius) + 1, math.floor(y + radius) + 1)
    return intersect(reach, Box(0, 0, width, height))


def dab_alpha(x: float, y: float, brush: Brush, box: Box) -> np.ndarray:
    """The dab's strength (0..1, float32) over `box`, before opacity. The pixel under the centre is always
    painted, so even a one-pixel brush leaves a mark."""
    xs = np.arange(box.left, box.right, dtype=np.float32) + 0.5 - np.float32(x)
    ys = np.arange(box.top, box.bottom, dtype=np.float32) + 0.5 - np.float32(y)
    distance = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    radius = np.float32(brush.radius)
    core = np.float32(brush.radius * brush.hardness)
    if brush.hardness >= 1.0:
        alpha = (distance <= radius).astype(np.float32)
    else:
        t = np.clip((distance - core) / (radius - core), 0.0, 1.0)
        alpha = 1.0 - t * t * (3.0 - 2.0 * t)  # smoothstep falloff from the hard core to the rim
        alpha[distance > radius] = 0.0
    column, row = math.floor(x) - box.left, math.floor(y) - box.top
    if 0 <= row < alpha.shape[0] and 0 <= column < alpha.shape[1]:
        alpha[row, column] = 1.0
    return alpha.astype(np.float32, copy=False)


def blend(before: np.ndarray, strength: np.ndarray, erase: bool, color: tuple[int, int, int] | None = None) -> np.ndarray:
    """Paint towards 255 (or `color`, on a colour layer) or erase towards 0 by `strength` (0..1); strength 1
    reaches the end exactly."""
    before = before.astype(np.float32)
    target = np.asarray(color, np.float32) if color is not None and before.ndim == 3 and not erase else 255.0
    after = before * (1.0 - strength) if erase else before + (target - before) * strength
    return np.rint(after).astype(np.uint8)


@dataclass
class _StrokeTile:
    box: Box
    before: np.ndarray  # uint8, the mask under this tile when the stroke began
    coverage: np.ndarray  # float32, the strongest dab so far at each pixel


class MaskStroke:
    """One press-drag-release of the brush on a mask (HxW) or a colour layer (HxWxC), painted in place as the
    points arrive."""

    def __init__(self, mask: np.ndarray, brush: Brush):
        self.mask = mask
        self.brush = brush
        self._tiles: dict[tuple[int, int], _StrokeTile] = {}
        self._last: tuple[float, float] | None = None
        self._travelled = 0.0  # distance since the last dab
        self.dirty: Box | None = None

    @property
    def last_point(self) -> tuple[float, float] | None:
        return self._last

    def move_to(self, x: float, y: float) -> Box | None:
        """Extend the stroke to (x, y): dabs every `brush.step` pixels along the way. Returns the changed box."""
        if self._last is None:
            self._last = (x, y)
            return self.stamp(x, y)
        x0, y0 = self._last
        length = math.hypot(x - x0, y - y0)
        changed = None
        along = self.brush.step - self._travelled
        while along <= length:
            t = along / length
            changed = union(changed, self.stamp(x0 + (x - x0) * t, y0 + (y - y0) * t))
            along += self.brush.step
        self._travelled = length - (along - self.brush.step)
        if self._travelled < 1e-9:
            self._travelled = 0.0
        self._last = (x, y)
        return changed

    def finish(self) -> Box | None:
        """End the stroke where the pointer lifted: a last dab there unless one already is. Idempotent."""
        if self._last is None or self._travelled == 0.0:
            return None
        self._travelled = 0.0
        return self.stamp(*self._last)

    def stamp(self, x: float, y: float) -> Box | None:
        """One dab at (x, y)."""
        height, width = self.mask.shape[:2]
        box = dab_box(x, y, self.brush.radius, width, height)
        if box is None:
            return None
        for tile in self._tiles_over(box):
            part = intersect(box, tile.box)
            self._stamp_part(x, y, tile, part)
        self.dirty = union(self.dirty, box)
        return box

    def _stamp_part(self, x: float, y: float, tile: _StrokeTile, part: Box) -> None:
        local = np.s_[part.top - tile.box.top:part.bottom - tile.box.top, part.left - tile.box.left:part.right - tile.box.left]
        coverage = tile.coverage[local]
        np.maximum(coverage, dab_alpha(x, y, self.brush, part), out=coverage)
        strength = coverage * np.float32(self.brush.opacity)
        if self.mask.ndim == 3:
            strength = strength[..., None]  # the same dab on every channel
        self.mask[part.top:part.bottom, part.left:part.right] = blend(tile.before[local], strength, self.brush.erase,
                                                                      self.brush.color)

    def _tiles_over(self, box: Box):
        height, width = self.mask.shape[:2]
        for ty in range(box.top // TILE, (box.bottom - 1) // TILE + 1):
            for tx in range(box.left // TILE, (box.right - 1) // TILE + 1):
                tile = self._tiles.get((tx, ty))
                if tile is None:
                    tile_box = Box(tx * TILE, ty * TILE, min(width, (tx + 1) * TILE), min(height, (ty + 1) * TILE))
                    before = self.mask[tile_box.top:tile_box.bottom, tile_box.left:tile_box.right].copy()
                    tile = _StrokeTile(tile_box, before, np.zeros(before.shape[:2], np.float32))
                    self._tiles[(tx, ty)] = tile
                yield tile

    def patches(self) -> list[tuple[Box, np.ndarray, np.ndarray]]:
        """(box, before, after) for every tile the stroke changed: what undo and redo need, nothing more."""
        found = []
        for tile in self._tiles.values():
            box = tile.box
            after = self.mask[box.top:box.bottom, box.left:box.right]
            if not np.array_equal(after, tile.before):
                found.append((box, tile.before, after.copy()))
        return found
