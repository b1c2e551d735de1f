"""Expanding the canvas for outpainting: the picture placed at an offset inside a larger one, the new area
given a starting content an inpainting model can work from, and a mask that asks the model to paint it.

The new area starts as the picture's edge pixels stretched outward, blurred more the further they reach (a
streak-free guess of the colours, which matters at a strength below 1). The mask covers the new area and a thin
band of the original along each expanded side, so the seam is regenerated rather than left as a hard edge.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from studio.core.errors import StudioError
from studio.core.masks import Box

# px of the original picture, along each expanded side, repainted with the new area: a feathered mask (the
# window's default feather is 4 px) then fades out inside the picture, and the new area is all generated
OVERLAP = 8
NEAR_BLUR = 2.0  # px of blur next to the original picture
FAR_BLUR_SHARE = 0.25  # the blur radius at the outer edge, as a share of the widest side added...
MAX_FAR_BLUR = 64.0  # ...up to this many px
WIDE_BLUR_RADIUS = 8.0  # blurs wider than twice this run on a picture reduced to keep their radius about this


class CanvasError(StudioError):
    """A canvas expansion that cannot be made (negative, empty, or too large)."""


@dataclass(frozen=True)
class Margins:
    """Pixels added on each side of the picture."""

    left: int
    top: int
    right: int
    bottom: int

    def expanded(self, size: tuple[int, int]) -> tuple[int, int]:
        """The canvas's (width, height) once a picture of `size` is expanded."""
        return size[0] + self.left + self.right, size[1] + self.top + self.bottom

    def inner(self, size: tuple[int, int]) -> Box:
        """Where the original picture lies on the expanded canvas."""
        return Box(self.left, self.top, self.left + size[0], self.top + size[1])

    @property
    def widest(self) -> int:
        return max(self.left, self.top, self.right, self.bottom)


BLANK_GREY = 127  # a new canvas: neutral, so a strength below 1 leans on no colour


def blank_canvas(width: int, height: int, max_pixels: int | None) -> tuple[np.ndarray, np.ndarray]:
    """A new picture to generate on from nothing (File ▸ New canvas): grey, and all of it masked, so Inpaint at
    strength 1 paints the whole picture from the prompt."""
    check_canvas_size(width, height, max_pixels)
    return np.full((height, width, 3), BLANK_GREY, np.uint8), np.full((height, width), 255, np.uint8)


def check_canvas_size(width: int, height: int, max_pixels: int | None) -> None:
    if width < 8 or height < 8 or width % 8 or height % 8:
        raise CanvasError(f"a canvas is at least 8 × 8 px, in multiples of 8: got {width} × {height}")
    if max_pixels is not None and width * height > max_pixels:
        raise CanvasError(f"{width} × {height} is larger than Studio handles ({max_pixels:,} pixels)")


def check_expansion(size: tuple[int, int], margins: Margins, overlap: int, max_pixels: int | None) -> None:
    """Raise CanvasError with one line to show when the expansion cannot be made."""
    for side in ("left", "top", "right", "bottom"):
        value = getattr(margins, side)
        if operator.index(value) < 0:
            raise CanvasError(f"Each side of the canvas grows by 0 px or more ({side} is {value} px).")
    if operator.index(overlap) < 0:
        raise CanvasError(f"The overlap must be 0 px or more (it is {overlap} px).")
    if margins.widest == 0:
        raise CanvasError("Nothing to expand: add pixels to at least one side of the canvas.")
    width, height = margins.expanded(size)
    if max_pixels is not None and width * height > max_pixels:
        raise CanvasError(f"A {width}×{height} canvas would be {width * height / 1e6:.1f} megapixels, more than the "
                          f"{max_pixels / 1e6:.1f} Studio can open: add fewer pixels.")


def expanded_picture(picture: np.ndarray, margins: Margins) -> np.ndarray:
    """The picture (HxWx3 uint8) on the larger canvas: its own pixels unchanged at the offset, the new area filled."""
    pads = ((margins.top, margins.bottom), (margins.left, margins.right), (0, 0))
    stretched = np.pad(picture, pads, mode="edge")
    out = stretched.copy()
    inner = margins.inner((picture.shape[1], picture.shape[0]))
    far = min(MAX_FAR_BLUR, max(NEAR_BLUR, margins.widest * FAR_BLUR_SHARE))
    for band in _new_bands(out.shape, inner):
        out[_rows_cols(band)] = _blurred_band(stretched, band, inner, far, margins.widest)
    return out


def expanded_mask(mask: np.ndarray, margins: Margins, overlap: int = OVERLAP) -> np.ndarray:
    """The mask (HxW uint8) at its offset; 255 over the new area and over `overlap` px of the picture along
    each side that grew."""
    height, width = mask.shape
    out = np.full(margins.expanded((width, height))[::-1], 255, np.uint8)
    inner = margins.inner((width, height))
    out[_rows_cols(inner)] = mask
    band_x, band_y = min(overlap, width), min(overlap, height)
    if margins.left:
        out[inner.top:inner.bottom, inner.left:inner.left + band_x] = 255
    if margins.right:
        out[inner.top:inner.bottom, inner.right - band_x:inner.right] = 255
    if margins.top:
        out[inner.top:inner.top + band_y, inner.left:inner.right] = 255
    if margins.bottom:
        out[inner.bottom - band_y:inner.bottom, inner.left:inner.right] = 255
    return out


def expanded_layer(pixels: np.ndarray, margins: Margins) -> np.ndarray:
    """A painted layer (a control map) at its offset; black (nothing painted) over the new area."""
    pads = ((margins.top, margins.bottom), (margins.left, margins.right)) + ((0, 0),) * (pixels.ndim - 2)
    return np.pad(pixels, pads)


def _rows_cols(box: Box):
    return np.s_[box.top:box.bottom, box.left:box.right]


def _new_bands(shape: tuple[int, ...], inner: Box) -> list[Box]:
    """The new area as up to four boxes: full-width bands above and below, side bands beside the picture."""
    height, width = shape[:2]
    bands = [Box(0, 0, width, inner.top), Box(0, inner.bottom, width, height),
             Box(0, inner.top, inner.left, inner.bottom), Box(inner.right, inner.top, width, inner.bottom)]
    return [band for band in bands if band.width > 0 and band.height > 0]


def _blurred_band(stretched: np.ndarray, band: Box, inner: Box, far: float, reach: int) -> np.ndarray:
    """The band's stretched pixels, blurred by a radius growing from NEAR_BLUR beside the picture to `far` at
    `reach` px from it: two blurs blended by distance, each of a context wide enough for its kernel."""
    near = _band_blur(stretched, band, NEAR_BLUR, lambda image: image.filter(ImageFilter.GaussianBlur(NEAR_BLUR)))
    blurry = _band_blur(stretched, band, far, lambda image: _wide_blur(image, far))
    weight = _distance(band, inner)[..., None] / max(reach, 1)
    return np.rint(near + (blurry - near) * np.clip(weight, 0.0, 1.0)).astype(np.uint8)


def _band_blur(stretched: np.ndarray, band: Box, radius: float, blur) -> np.ndarray:
    """`blur` of the band's pixels (float32), computed over the band and the margin its kernel reaches."""
    height, width = stretched.shape[:2]
    margin = int(np.ceil(3 * radius))
    context = Box(max(band.left - margin, 0), max(band.top - margin, 0),
                  min(band.right + margin, width), min(band.bottom + margin, height))
    inside = np.s_[band.top - context.top:band.bottom - context.top, band.left - context.left:band.right - context.left]
    return np.asarray(blur(Image.fromarray(stretched[_rows_cols(context)])), np.float32)[inside]


def _wide_blur(image: Image.Image, radius: float) -> Image.Image:
    """A Gaussian blur of a large radius, computed at a reduced size (a wide blur keeps no fine detail to lose):
    expanding a large photo stays well under a second on the window's thread."""
    factor = int(radius // WIDE_BLUR_RADIUS)
    if factor < 2:
        return image.filter(ImageFilter.GaussianBlur(radius))
    small = image.reduce(factor).filter(ImageFilter.GaussianBlur(radius / factor))
    return small.resize(image.size, Image.Resampling.BILINEAR)


def _distance(band: Box, inner: Box) -> np.ndarray:
    """Each pixel's distance (in px, the larger of across and down) from the original picture."""
    ys, xs = np.ogrid[band.top:band.bottom, band.left:band.right]
    across = np.maximum(np.maximum(inner.left - xs, xs - (inner.right - 1)), 0)
    down = np.maximum(np.maximum(inner.top - ys, ys - (inner.bottom - 1)), 0)
    return np.maximum(across, down).astype(np.float32)
