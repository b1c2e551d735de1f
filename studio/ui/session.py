"""The session folder: where the window keeps the masks (and pictures without a file) that its recipes name,
so that every result can be reproduced from its metadata."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from platformdirs import user_data_dir


def sessions_root() -> Path:
    return Path(user_data_dir("studio", appauthor=False)) / "sessions"


class SessionFolder:
    def __init__(self, root: Path | None = None):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = (root or sessions_root()) / f"{stamp}-{os.getpid()}"
        self._count = 0

    def next_path(self, kind: str) -> Path:
        """A fresh file name such as mask-0003.png; the file is written later, by the worker."""
        self._count += 1
        return self.path / f"{kind}-{self._count:04d}.png"


def write_inputs(files: dict[Path, np.ndarray]) -> None:
    """Write the input pictures a recipe names (called in the worker thread: PNG encoding takes time)."""
    for path, pixels in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.part")
        Image.fromarray(pixels).save(temporary, format="PNG", compress_level=1)
        os.replace(temporary, path)
