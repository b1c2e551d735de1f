"""What the model sees under the mask before it starts ("masked content", as AUTOMATIC1111 and Krita AI call it).

"original" leaves the picture as it is. "fill" paints the masked part from its surroundings first (OpenCV's
Telea inpainting), so that at a strength below 1 the model starts from the background instead of the object
being removed. Only the model's input changes: pixels outside the mask are still taken from the picture itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.core.recipe import MASKED_CONTENTS

FILL_RADIUS = 5  # pixels of neighbourhood Telea's method draws from at each step


def prefill(picture: np.ndarray, mask: np.ndarray, content: str) -> np.ndarray:
    """The picture (HxWx3 uint8) with the masked part (any nonzero value of the HxW mask) filled as asked."""
    if content == "original":
        return picture
    if content != "fill":
        raise ValueError(f"masked content must be one of {MASKED_CONTENTS}, got {content!r}")
    hole = (mask > 0).astype(np.uint8)
    if not hole.any() or hole.all():
        return picture  # nothing to fill, or nothing to fill it from
    return cv2.inpaint(np.ascontiguousarray(picture), hole, FILL_RADIUS, cv2.INPAINT_TELEA)
