"""What a batch export needs before it runs: its recipe, where it goes, and what the chosen folder holds.

The picture and mask a batch is made from are copied into the export folder (`inputs/`), named by the hash
of their pixels, so the folder is self-contained (its batch.json names files inside it) and the same picture,
mask and settings give the same recipe in any session: that is what lets the window resume a batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from platformdirs import user_pictures_dir

from studio.core.errors import StudioError
from studio.core.export import BatchFolder, ExportSettings
from studio.core.images import pixel_hash
from studio.core.recipe import Recipe
from studio.core.sweeps import Job

INPUTS_FOLDER = "inputs"
HASH_DIGITS = 12


@dataclass(frozen=True)
class BatchInputs:
    """The pictures a recipe names (picture, mask, control pictures), to be copied into the export folder."""

    moved: dict  # the recipe's path → (file name in inputs/, pixels)

    @classmethod
    def of(cls, recipe: Recipe, picture: np.ndarray, mask: np.ndarray | None,
           files: dict[Path, np.ndarray] | None = None) -> "BatchInputs":
        """From what Generate would use: its recipe, the document's arrays and the files it would write."""
        sources = {str(path): pixels for path, pixels in (files or {}).items()}
        if recipe.image and recipe.image not in sources:
            sources[recipe.image] = picture
        if recipe.mask and recipe.mask not in sources and mask is not None:
            sources[recipe.mask] = mask
        return cls({path: (f"{_kind(path, recipe)}-{pixel_hash(pixels)[:HASH_DIGITS]}.png", pixels)
                    for path, pixels in sources.items()})

    def placed(self, recipe: Recipe, folder: Path) -> tuple[Recipe, dict[Path, np.ndarray]]:
        """The recipe naming the copies inside `folder`, and the files the worker writes before it runs."""
        inputs = Path(folder) / INPUTS_FOLDER

        def moved(path: str | None) -> str | None:
            return str(inputs / self.moved[path][0]) if path in self.moved else path

        units = [dict(dataclasses.asdict(unit), image=moved(unit.image)) for unit in recipe.controlnets]
        files = {inputs / name: pixels for name, pixels in self.moved.values()}
        return recipe.replace(image=moved(recipe.image), mask=moved(recipe.mask), controlnets=units), files


def _kind(path: str, recipe: Recipe) -> str:
    return "picture" if path == recipe.image else "mask" if path == recipe.mask else "control"


@dataclass(frozen=True)
class BatchPlan:
    """A batch ready for the worker: the recipe (with its sweep and variations), the export settings, whether
    it finishes a batch already in the folder, and the input pictures to write first."""

    recipe: Recipe
    settings: ExportSettings
    resume: bool = False
    files: dict = field(default_factory=dict)  # Path → pixels


@dataclass(frozen=True)
class FolderState:
    kind: str  # "empty", "new" (no batch yet), "this" (resumable), "another", "clash" (files with our names)
    message: str
    done: int = 0  # pictures of this batch already there

    @property
    def usable(self) -> bool:
        return self.kind in ("empty", "new", "this")


def inspect_folder(settings: ExportSettings, recipe: Recipe, jobs: list[Job]) -> FolderState:
    """What the chosen folder holds for this batch, read without writing anything. Raises StudioError when
    the naming pattern is unusable (unknown field, two jobs with one name)."""
    batch = BatchFolder(settings, recipe, jobs)
    folder = Path(settings.folder)
    if not folder.exists():
        return FolderState("empty", "A new folder: it will be created.")
    if not folder.is_dir():
        raise StudioError(f"{folder} is a file, not a folder")
    holds = batch.holds()
    if holds == "this":
        done = sum(batch.path_of(job).is_file() for job in jobs)
        rest = len(jobs) - done
        if rest == 0:
            return FolderState("this", f"This folder holds this batch, complete ({done} pictures).", done)
        return FolderState("this", f"This folder holds this batch: {done} of {len(jobs)} pictures are done; "
                                   f"resuming makes the other {rest}.", done)
    if holds == "another":
        return FolderState("another", "This folder holds another batch. Choose an empty folder, or load that "
                                      "batch's settings to resume it.")
    taken = [batch.names[job.index] for job in jobs if batch.path_of(job).exists()]
    if taken:
        return FolderState("clash", f"This folder already has files named like this batch's pictures "
                                    f"({taken[0]}{' …' if len(taken) > 1 else ''}); choose another folder or name.")
    empty = not any(folder.iterdir())
    if empty:
        return FolderState("empty", "An empty folder.")
    return FolderState("new", "The folder's other files are left alone.")


def default_parent() -> Path:
    return Path(user_pictures_dir()) / "Studio"


def fresh_folder(parent: Path, stem: str = "batch") -> Path:
    """The first of parent/batch-001, batch-002 … that does not exist yet."""
    number = 1
    while (parent / f"{stem}-{number:03d}").exists():
        number += 1
    return parent / f"{stem}-{number:03d}"


def proposed_folder(remembered: str | None) -> Path:
    """The last batch folder while it is still empty; otherwise a fresh one beside it."""
    if remembered:
        last = Path(remembered)
        if not last.exists() or (last.is_dir() and not any(last.iterdir())):
            return last
        return fresh_folder(last.parent)
    return fresh_folder(default_parent())
