"""Reading pictures and masks from disk into uint8 arrays, with clear messages for bad files.

Pillow's own safety limits (decompression bombs, truncated files) stay on: they are never relaxed here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.errors import ImageError

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


@dataclass
class LoadedMask:
    pixels: np.ndarray  # uint8 HxW
    notices: list[str] = field(default_factory=list)


def _open(path: Path, what: str) -> Image.Image:
    if not path.exists():
        raise ImageError(f"{what} not found: {path}")
    try:
        image = Image.open(path)
        image.load()
    except Image.DecompressionBombError as error:
        raise ImageError(f"{what} {path.name} is too large to open safely ({error})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{what} {path.name} is not a picture Studio can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{what} {path.name} is damaged or truncated ({error})") from None
    return ImageOps.exif_transpose(image)


def max_picture_pixels() -> int | None:
    """The most pixels a picture may have for Studio to open it: above twice Pillow's MAX_IMAGE_PIXELS, Pillow
    refuses the file as a decompression bomb (the limit is read here, never changed). None when it is off."""
    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else 2 * limit


def upscaled_size(width: int, height: int, factor: float, multiple: int = 8) -> tuple[int, int]:
    """A picture's size `factor` times larger, rounded to a multiple of `multiple` (the VAE's 8)."""
    return (max(multiple, round(width * factor / multiple) * multiple),
            max(multiple, round(height * factor / multiple) * multiple))


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to an HxWx3 uint8 array; 16-bit greys are scaled, not clipped; alpha is dropped."""
    if image.mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        grey = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "F":
        grey = np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def to_grey_array(image: Image.Image) -> np.ndarray:
    """A mask from any mode: its alpha where it has a real one (painted layers), else its luminance."""
    if image.mode in ("RGBA", "LA", "PA") and image.getchannel("A").getextrema() != (255, 255):
        return np.asarray(image.getchannel("A"), dtype=np.uint8).copy()
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    return to_rgb_array(image).max(axis=2)


def load_image(path: str | Path) -> np.ndarray:
    """An RGB picture as HxWx3 uint8, EXIF orientation applied."""
    return to_rgb_array(_open(Path(path), "picture"))


def load_mask(path: str | Path, size: tuple[int, int]) -> LoadedMask:
    """A mask as HxW uint8 (white = repaint). A mask of another size is resized to `size` (width, height), with a notice."""
    image = _open(Path(path), "mask")
    pixels = to_grey_array(image)
    notices = []
    if (pixels.shape[1], pixels.shape[0]) != tuple(size):
        notices.append(
            f"mask is {pixels.shape[1]}×{pixels.shape[0]} but the picture is {size[0]}×{size[1]}; the mask was resized to fit"
        )
        pixels = np.asarray(Image.fromarray(pixels, mode="L").resize(tuple(size), Image.Resampling.BILINEAR))
    return LoadedMask(pixels.copy(), notices)


def pixel_hash(pixels: np.ndarray) -> str:
    """sha256 of the decoded pixels and their shape: the same picture saved in another format hashes the same."""
    digest = hashlib.sha256(repr(pixels.shape).encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()
