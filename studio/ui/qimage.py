"""Converting between numpy arrays (what core and the engine use) and QImage (what Qt draws)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def rgb_to_qimage(pixels: np.ndarray) -> QImage:
    """An HxWx3 uint8 array as an RGB888 QImage that owns its own copy of the pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def grey_to_qimage(pixels: np.ndarray) -> QImage:
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape
    return QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8).copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """Any QImage as an HxWx3 uint8 array (alpha dropped, composited over nothing)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


def premultiplied_overlay(mask: np.ndarray, rgb: tuple[int, int, int]) -> tuple[QImage, np.ndarray]:
    """A mask tile coloured for display: colour `rgb` with the mask as alpha, premultiplied (Qt's fast path).
    Returns the image and the buffer it points into, which the caller keeps alive as long as the image."""
    height, width = mask.shape
    alpha = mask.astype(np.uint16)
    buffer = np.empty((height, width, 4), np.uint8)
    for channel, value in enumerate(rgb):
        buffer[..., channel] = (alpha * value + 127) // 255
    buffer[..., 3] = mask
    image = QImage(buffer.data, width, height, 4 * width, QImage.Format.Format_RGBA8888_Premultiplied)
    return image, buffer
