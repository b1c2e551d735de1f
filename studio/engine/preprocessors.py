"""Control maps from pictures, by controlnet-aux's preprocessors.

Canny, content shuffle and standard lineart need no weights. The others load annotator weights from a
local folder (Studio never downloads); when a file is missing, the message says which and where.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from platformdirs import user_data_dir

from studio.core.errors import StudioError
from studio.plugins.preprocessors import PREPROCESSORS, Preprocessor

ANNOTATORS_SOURCE = "the lllyasviel/Annotators repository"


class MissingAnnotatorWeights(StudioError):
    def __init__(self, preprocessor: Preprocessor, missing: list[str], folder: Path):
        self.missing = missing
        super().__init__(
            f"the {preprocessor.label} preprocessor needs {', '.join(missing)}: put "
            f"{'it' if len(missing) == 1 else 'them'} in {folder} (files from {ANNOTATORS_SOURCE})"
        )


def annotators_dir() -> Path:
    """Where annotator weights live: $STUDIO_ANNOTATORS, else <user data>/annotators."""
    return Path(os.environ.get("STUDIO_ANNOTATORS") or Path(user_data_dir("studio")) / "annotators")


def require_preprocessor(preprocessor_id: str) -> Preprocessor:
    if preprocessor_id not in PREPROCESSORS:
        raise StudioError(f"unknown preprocessor '{preprocessor_id}'; available: none, {', '.join(PREPROCESSORS)}")
    return PREPROCESSORS[preprocessor_id]


def _detector(preprocessor: Preprocessor, folder: Path):
    import controlnet_aux

    cls = getattr(controlnet_aux, preprocessor.detector)
    if not preprocessor.weights:
        return cls()
    missing = [name for name in preprocessor.weights if not (folder / name).is_file()]
    if missing:
        raise MissingAnnotatorWeights(preprocessor, missing, folder)
    return cls.from_pretrained(str(folder), **preprocessor.options)


def control_map(picture: np.ndarray, preprocessor_id: str, params: dict | None = None, folder: Path | None = None) -> np.ndarray:
    """The control map of a picture (HxWx3 uint8), at the picture's size."""
    if preprocessor_id == "none":
        return picture.copy()
    preprocessor = require_preprocessor(preprocessor_id)
    detector = _detector(preprocessor, folder or annotators_dir())
    height, width = picture.shape[:2]
    resolution = int((params or {}).get("resolution", min(max(height, width), 1024)))
    options = {k: v for k, v in (params or {}).items() if k != "resolution"}
    try:
        result = detector(Image.fromarray(picture), detect_resolution=resolution, image_resolution=resolution,
                          output_type="pil", **options)
    except TypeError as error:
        raise StudioError(f"the {preprocessor.label} preprocessor does not take these parameters: {error}") from None
    return np.asarray(result.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))
