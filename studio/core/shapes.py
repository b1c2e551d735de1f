"""Mask shapes drawn with a drag: a rectangle (from the press to the release) or a lasso (the path the pointer
took, closed). Each gives the pixels it covers inside the picture, for one undoable fill of the mask or a map."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from studio.core.masks import Box

SHAPES = ("rectangle", "lasso")
Point = tuple[float, float]


def shape_region(size: tuple[int, int], kind: str, points: Sequence[Point]) -> tuple[Box, np.ndarray] | None:
    """(box inside the picture, boolean pixels of the box the shape covers), or None when it covers nothing.
    A pixel is covered when its centre is inside the shape (Pillow's polygon rule)."""
    if kind not in SHAPES:
        raise ValueError(f"unknown shape {kind!r}; expected one of {SHAPES}")
    if kind == "rectangle":
        if len(points) < 2:
            return None
        (x0, y0), (x1, y1) = points[0], points[-1]
        polygon = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    else:
        polygon = list(points)
    if len(polygon) < 3:
        return None
    width, height = size
    xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
    box = Box(max(0, math.floor(min(xs))), max(0, math.floor(min(ys))),
              min(width, math.ceil(max(xs))), min(height, math.ceil(max(ys))))
    if box.width <= 0 or box.height <= 0:
        return None
    canvas = Image.new("1", (box.width, box.height), 0)
    # Pillow fills pixels whose centres lie inside; shift so pixel (i, j) has its centre at (i + 0.5, j + 0.5)
    ImageDraw.Draw(canvas).polygon([(x - box.left - 0.5, y - box.top - 0.5) for x, y in polygon], fill=1)
    covered = np.asarray(canvas, dtype=bool)
    return (box, covered) if covered.any() else None
