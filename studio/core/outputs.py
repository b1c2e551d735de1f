"""Every result kept on disk, as AUTOMATIC1111 keeps its outputs: one PNG per picture (with the recipe that
reproduces it) in a folder per day, under the user data folder. A new job's results replace the old ones in the
window's strip; the files stay, so nothing a person generated is lost."""

from __future__ import annotations

import re
import time
from pathlib import Path

from platformdirs import user_data_dir

NAME = re.compile(r"^(\d{5})-")


def outputs_dir() -> Path:
    return Path(user_data_dir("studio", appauthor=False)) / "outputs"


def day_folder(root: Path, now: float | None = None) -> Path:
    return root / time.strftime("%Y-%m-%d", time.localtime(now))


def next_index(folder: Path) -> int:
    """One more than the highest number a file of the folder starts with (1 in a new folder)."""
    if not folder.is_dir():
        return 1
    numbers = [int(match.group(1)) for path in folder.iterdir() if (match := NAME.match(path.name))]
    return max(numbers, default=0) + 1


def output_name(index: int, task: str, seed: int) -> str:
    return f"{index:05d}-{task}-seed{seed}.png"
