"""Autosave of the open document (picture, mask, layers, results, recipe) so a crash costs nothing.

Each save goes to a fresh folder which is renamed into place when complete, and a pointer file names the
newest complete one: a save interrupted at any moment leaves the previous one intact. A clean exit discards
it; a snapshot found at launch is offered back.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from platformdirs import user_data_dir

from studio.core.metadata import ResultMetadata, read_metadata, write_png

POINTER = "current"
STATE = "state.json"


@dataclass
class Snapshot:
    picture: np.ndarray
    mask: np.ndarray
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. a ControlNet map being painted
    results: list[tuple[np.ndarray, ResultMetadata]] = field(default_factory=list)
    recipe: dict = field(default_factory=dict)  # the panels' values, as a recipe dict
    source: str | None = None  # the file the picture came from
    saved_at: float = 0.0


def default_root() -> Path:
    return Path(os.environ.get("STUDIO_AUTOSAVE_DIR") or Path(user_data_dir("studio")) / "autosave")


def _save_png(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels).save(path, format="PNG", compress_level=1)  # fast: autosave runs often


class Autosave:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_root()

    def save(self, snapshot: Snapshot) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.root))
        _save_png(work / "picture.png", snapshot.picture)
        _save_png(work / "mask.png", snapshot.mask)
        names = sorted(snapshot.layers)
        for index, name in enumerate(names):  # files by position: layer names may hold any character
            _save_png(work / f"layer-{index:03d}.png", snapshot.layers[name])
        for index, (pixels, meta) in enumerate(snapshot.results):
            write_png(work / f"result-{index:03d}.png", pixels, meta)
        state = {"recipe": snapshot.recipe, "source": snapshot.source, "layers": names,
                 "results": len(snapshot.results), "saved_at": time.time()}
        (work / STATE).write_text(json.dumps(state))
        final = self.root / f"snapshot-{time.time_ns()}"
        os.replace(work, final)
        pointer = self.root / f".{POINTER}.part"
        pointer.write_text(final.name)
        os.replace(pointer, self.root / POINTER)
        self._remove_all_but(final.name)
        return final

    def _current(self) -> Path | None:
        try:
            name = (self.root / POINTER).read_text().strip()
        except OSError:
            return None
        folder = self.root / name
        return folder if name.startswith("snapshot-") and (folder / STATE).is_file() else None

    def pending(self) -> bool:
        return self._current() is not None

    def load(self) -> Snapshot | None:
        """The newest complete snapshot, or None (nothing saved, or unreadable: then it is set aside)."""
        folder = self._current()
        if folder is None:
            return None
        try:
            state = json.loads((folder / STATE).read_text())
            layers = {name: np.asarray(Image.open(folder / f"layer-{index:03d}.png"))
                      for index, name in enumerate(state["layers"])}
            results = []
            for index in range(state["results"]):
                path = folder / f"result-{index:03d}.png"
                results.append((np.asarray(Image.open(path).convert("RGB")), read_metadata(path)))
            return Snapshot(
                np.asarray(Image.open(folder / "picture.png").convert("RGB")),
                np.asarray(Image.open(folder / "mask.png").convert("L")),
                layers, results, state["recipe"], state["source"], state["saved_at"],
            )
        except Exception:  # a damaged snapshot must never stop the app from starting
            self.discard()
            return None

    def discard(self) -> None:
        """After a clean exit, or once the user declined recovery."""
        (self.root / POINTER).unlink(missing_ok=True)
        self._remove_all_but(None)

    def _remove_all_but(self, keep: str | None) -> None:
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name != keep and (entry.name.startswith("snapshot-") or entry.name.startswith(".saving-")):
                shutil.rmtree(entry, ignore_errors=True)
