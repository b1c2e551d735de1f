"""The document being edited: a picture, its mask, and the undo history of both.

Every undo entry stores only the rectangles it changed (their pixels before and after), so undoing a stroke
costs what the stroke touched, and the history's memory follows the edits, not the picture's size.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.core.brush import Brush, MaskStroke, union
from studio.core.masks import Box

PICTURE = "picture"
MASK = "mask"
HISTORY_BYTES = 1 << 30  # the oldest entries are dropped beyond this
_document_ids = itertools.count(1)


@dataclass
class Patch:
    box: Box
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


@dataclass
class Edit:
    """One undoable step on one layer of the document."""

    label: str
    layer: str  # PICTURE or MASK
    patches: list[Patch] = field(default_factory=list)

    @property
    def box(self) -> Box | None:
        found = None
        for patch in self.patches:
            found = union(found, patch.box)
        return found

    @property
    def nbytes(self) -> int:
        return sum(patch.nbytes for patch in self.patches)


@dataclass(frozen=True)
class Change:
    """What an edit, undo or redo changed: the view redraws this box of this layer."""

    layer: str
    box: Box
    label: str


class History:
    def __init__(self, limit_bytes: int = HISTORY_BYTES):
        self.limit_bytes = limit_bytes
        self._done: list[Edit] = []
        self._undone: list[Edit] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_label(self) -> str | None:
        return self._done[-1].label if self._done else None

    @property
    def redo_label(self) -> str | None:
        return self._undone[-1].label if self._undone else None

    @property
    def nbytes(self) -> int:
        return sum(edit.nbytes for edit in self._done + self._undone)

    def push(self, edit: Edit) -> None:
        self._done.append(edit)
        self._undone.clear()
        while len(self._done) > 1 and self.nbytes > self.limit_bytes:
            self._done.pop(0)

    def pop_undo(self) -> Edit | None:
        if not self._done:
            return None
        edit = self._done.pop()
        self._undone.append(edit)
        return edit

    def pop_redo(self) -> Edit | None:
        if not self._undone:
            return None
        edit = self._undone.pop()
        self._done.append(edit)
        return edit


def _whole(pixels: np.ndarray) -> Box:
    return Box(0, 0, pixels.shape[1], pixels.shape[0])


def _slice(box: Box):
    return np.s_[box.top:box.bottom, box.left:box.right]


class Document:
    """A picture (HxWx3 uint8) and a mask (HxW uint8, 255 = repaint) with one shared undo history."""

    def __init__(self, picture: np.ndarray, source: Path | None = None, mask: np.ndarray | None = None):
        if picture.ndim != 3 or picture.shape[2] != 3 or picture.dtype != np.uint8:
            raise ValueError(f"a picture is HxWx3 uint8, got {picture.shape} {picture.dtype}")
        self.picture = np.ascontiguousarray(picture)
        self.mask = np.zeros(picture.shape[:2], np.uint8) if mask is None else np.ascontiguousarray(mask, np.uint8)
        if self.mask.shape != self.picture.shape[:2]:
            raise ValueError(f"mask {self.mask.shape} does not match picture {self.picture.shape[:2]}")
        self.source = source
        self.uid = next(_document_ids)  # tells documents apart even when one is freed and another takes its place
        self.history = History()
        self.picture_revision = 0  # 0 while the picture is still the one read from `source`
        self.picture_serial = 0  # counts every change of the picture, undo and redo included; never repeats

    @property
    def size(self) -> tuple[int, int]:
        return self.picture.shape[1], self.picture.shape[0]

    @property
    def picture_is_original(self) -> bool:
        return self.picture_revision == 0

    def layer(self, name: str) -> np.ndarray:
        return self.picture if name == PICTURE else self.mask

    # Painting

    def begin_stroke(self, brush: Brush) -> MaskStroke:
        return MaskStroke(self.mask, brush)

    def end_stroke(self, stroke: MaskStroke) -> Change | None:
        stroke.finish()
        patches = [Patch(box, before, after) for box, before, after in stroke.patches()]
        label = "Erase" if stroke.brush.erase else "Paint"
        return self._record(Edit(label, MASK, patches))

    # Whole-mask operations

    def invert_mask(self) -> Change | None:
        return self.replace_region(MASK, _whole(self.mask), 255 - self.mask, "Invert mask")

    def clear_mask(self) -> Change | None:
        box = _changed_box(self.mask, 0)
        return None if box is None else self.replace_region(MASK, box, np.zeros((box.height, box.width), np.uint8), "Clear mask")

    def fill_mask(self) -> Change | None:
        return self.replace_region(MASK, _whole(self.mask), np.full_like(self.mask, 255), "Fill mask")

    # Results

    def apply_result(self, pixels: np.ndarray, box: Box | None = None) -> Change | None:
        """Put a generated picture onto the document as one undoable step. `box`, when known, bounds what the
        result changed (the worker computes it), so only that region is copied and remembered."""
        if pixels.shape != self.picture.shape:
            raise ValueError(f"the result is {pixels.shape[1]}×{pixels.shape[0]}, the picture {self.size[0]}×{self.size[1]}")
        box = box if box is not None else changed_box(self.picture, pixels)
        if box is None:
            return None
        return self.replace_region(PICTURE, box, pixels[_slice(box)], "Apply result")

    def fill_region(self, layer: str, box: Box, covered: np.ndarray, erase: bool, label: str) -> Change | None:
        """Paint the covered pixels of `box` (a rectangle or lasso, core/shapes.py) fully on, or off: one step."""
        pixels = self.layer(layer)[_slice(box)].copy()
        pixels[covered] = 0 if erase else 255
        return self.replace_region(layer, box, pixels, label)

    def replace_region(self, layer: str, box: Box, pixels: np.ndarray, label: str) -> Change | None:
        target = self.layer(layer)
        before = target[_slice(box)].copy()
        if np.array_equal(before, pixels):
            return None
        target[_slice(box)] = pixels
        return self._record(Edit(label, layer, [Patch(box, before, np.array(pixels, copy=True))]))

    # Undo / redo

    def undo(self) -> Change | None:
        edit = self.history.pop_undo()
        if edit is None:
            return None
        for patch in reversed(edit.patches):
            self.layer(edit.layer)[_slice(patch.box)] = patch.before
        self._count(edit, -1)
        return Change(edit.layer, edit.box, edit.label)

    def redo(self) -> Change | None:
        edit = self.history.pop_redo()
        if edit is None:
            return None
        for patch in edit.patches:
            self.layer(edit.layer)[_slice(patch.box)] = patch.after
        self._count(edit, +1)
        return Change(edit.layer, edit.box, edit.label)

    def _record(self, edit: Edit) -> Change | None:
        if not edit.patches:
            return None
        self.history.push(edit)
        self._count(edit, +1)
        return Change(edit.layer, edit.box, edit.label)

    def _count(self, edit: Edit, direction: int) -> None:
        if edit.layer == PICTURE:
            self.picture_revision += direction
            self.picture_serial += 1


def changed_box(before: np.ndarray, after: np.ndarray) -> Box | None:
    """The smallest box holding every pixel that differs, or None when nothing does."""
    differs = before != after
    if differs.ndim == 3:
        differs = differs.any(axis=2)
    rows = np.flatnonzero(differs.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(differs.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _changed_box(mask: np.ndarray, value: int) -> Box | None:
    rows = np.flatnonzero((mask != value).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero((mask != value).any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
