"""Layers beside the picture and the mask: the control maps a person inspects and paints on before generating.

They share the document's one undo history, so Ctrl+Z goes back through mask strokes, map strokes and applied
results in the order they were made. The document can also change size as one undoable step (an upscaled result
applied, or the canvas expanded for outpainting): the mask and every layer follow the picture.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from studio.core.brush import Brush, MaskStroke
from studio.core.canvas import OVERLAP, Margins, check_expansion, expanded_layer, expanded_mask, expanded_picture
from studio.core.document import MASK, PICTURE, Change, Document, Edit, Patch
from studio.core.images import max_picture_pixels
from studio.core.masks import Box

CONTROL_PREFIX = "control:"
_serials = itertools.count(1)


def control_layer(key: int | str) -> str:
    """The name of the control-map layer of ControlNet unit `key`."""
    return f"{CONTROL_PREFIX}{key}"


class MapStroke(MaskStroke):
    """A stroke on an RGB layer (HxWx3): the dabs of a mask stroke, the brush painting white and the eraser black."""

    def __init__(self, pixels: np.ndarray, brush: Brush, layer: str):
        super().__init__(pixels, brush)
        self.layer = layer


@dataclass
class SwapEdit(Edit):
    """Whole layers exchanged in one step: a layer made (None before: it did not exist) or replaced at another
    size, or the document resized. The arrays are the live layers themselves: the history's order keeps them right."""

    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for side in (self.before, self.after) for a in side.values() if a is not None)


def resized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A mask or map at another size, nearest-neighbour: it covers the same part of the picture, as sharp as painted."""
    if pixels.shape[1::-1] == tuple(size):
        return pixels.copy()
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.NEAREST)).copy()


class LayeredDocument(Document):
    """A document with named RGB layers (control maps) at the picture's size, painted and undone like the mask."""

    def __init__(self, picture: np.ndarray, source=None, mask: np.ndarray | None = None):
        super().__init__(picture, source, mask)
        self.layers: dict[str, np.ndarray] = {}
        self._layer_serials: dict[str, int] = {}

    @classmethod
    def adopt(cls, document: Document) -> "LayeredDocument":
        """A plain document with layers added; it keeps its arrays, identity and history."""
        if isinstance(document, cls):
            return document
        layered = cls.__new__(cls)
        layered.__dict__.update(document.__dict__)
        layered.layers, layered._layer_serials = {}, {}
        return layered

    def layer(self, name: str) -> np.ndarray:
        if name in (PICTURE, MASK):
            return super().layer(name)
        return self.layers[name]

    def has_layer(self, name: str) -> bool:
        return name in self.layers

    def layer_serial(self, name: str) -> int:
        """Changes whenever the layer's pixels change (undo and redo included) and never repeats; 0 if absent."""
        return self._layer_serials.get(name, 0) if name in self.layers else 0

    def set_layer(self, name: str, pixels: np.ndarray, label: str) -> Change | None:
        """Make or replace a layer (HxWx3 uint8 at the picture's size) as one undoable step."""
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        if pixels.shape != self.picture.shape:
            raise ValueError(f"a layer is {self.picture.shape}, got {pixels.shape}")
        current = self.layers.get(name)
        if current is not None:
            return self.replace_region(name, Box(0, 0, *self.size), pixels, label)
        return self._swap(label, name, {name: pixels.copy()})

    # Painting

    def begin_stroke(self, brush: Brush, layer: str = MASK) -> MaskStroke:
        """A stroke on the mask, a control map, or the picture itself (a colour brush: a sketch for SDEdit)."""
        if layer == MASK:
            return super().begin_stroke(brush)
        return MapStroke(self.picture if layer == PICTURE else self.layers[layer], brush, layer)

    def end_stroke(self, stroke: MaskStroke) -> Change | None:
        if not isinstance(stroke, MapStroke):
            return super().end_stroke(stroke)
        stroke.finish()
        patches = [Patch(box, before, after) for box, before, after in stroke.patches()]
        if stroke.layer == PICTURE:
            label = "Paint picture"
        else:
            label = "Erase control map" if stroke.brush.erase else "Paint control map"
        return self._record(Edit(label, stroke.layer, patches))

    # Size

    def resize(self, picture: np.ndarray, label: str = "Apply result") -> Change:
        """Replace the picture by one of another size; the mask and the layers are resized with it. One step."""
        if picture.ndim != 3 or picture.shape[2] != 3 or picture.dtype != np.uint8:
            raise ValueError(f"a picture is HxWx3 uint8, got {picture.shape} {picture.dtype}")
        size = (picture.shape[1], picture.shape[0])
        after = {PICTURE: np.ascontiguousarray(picture).copy(), MASK: resized(self.mask, size)}
        after.update({name: resized(pixels, size) for name, pixels in self.layers.items()})
        return self._swap(label, PICTURE, after)

    def expand_canvas(self, left: int, top: int, right: int, bottom: int, overlap: int = OVERLAP,
                      max_pixels: int | None = None) -> Change:
        """Enlarge the canvas by these pixels on each side (outpainting) as one undoable step. The picture, mask
        and layers keep their pixels at the new offset; the new area gets a starting content and is added to the
        mask, with `overlap` px of the picture along each grown side. Raises CanvasError when it cannot be made;
        `max_pixels` (None: the most Studio opens) bounds the result."""
        margins = Margins(left, top, right, bottom)
        check_expansion(self.size, margins, overlap, max_pixels or max_picture_pixels())
        after = {PICTURE: expanded_picture(self.picture, margins), MASK: expanded_mask(self.mask, margins, overlap)}
        after.update({name: expanded_layer(pixels, margins) for name, pixels in self.layers.items()})
        return self._swap("Expand canvas", PICTURE, after)

    # Undo / redo

    def undo(self) -> Change | None:
        edit = self.history.pop_undo()
        if edit is None:
            return None
        if isinstance(edit, SwapEdit):
            self._put(edit.before)
        else:
            for patch in reversed(edit.patches):
                self.layer(edit.layer)[patch.box.top:patch.box.bottom, patch.box.left:patch.box.right] = patch.before
        self._count(edit, -1)
        return self._change(edit)

    def redo(self) -> Change | None:
        edit = self.history.pop_redo()
        if edit is None:
            return None
        if isinstance(edit, SwapEdit):
            self._put(edit.after)
        else:
            for patch in edit.patches:
                self.layer(edit.layer)[patch.box.top:patch.box.bottom, patch.box.left:patch.box.right] = patch.after
        self._count(edit, +1)
        return self._change(edit)

    def _swap(self, label: str, layer: str, after: dict) -> Change:
        before = {name: self._get(name) for name in after}
        edit = SwapEdit(label, layer, before=before, after=after)
        self._put(after)
        self.history.push(edit)
        self._count(edit, +1)
        return self._change(edit)

    def _get(self, name: str) -> np.ndarray | None:
        return super().layer(name) if name in (PICTURE, MASK) else self.layers.get(name)

    def _put(self, arrays: dict) -> None:
        for name, pixels in arrays.items():
            if name == PICTURE:
                self.picture = pixels
            elif name == MASK:
                self.mask = pixels
            elif pixels is None:
                self.layers.pop(name, None)
            else:
                self.layers[name] = pixels

    def _count(self, edit: Edit, direction: int) -> None:
        super()._count(edit, direction)
        names = edit.after if isinstance(edit, SwapEdit) else (edit.layer,)
        for name in names:
            if name not in (PICTURE, MASK):
                self._layer_serials[name] = next(_serials)

    def _change(self, edit: Edit) -> Change:
        box = Box(0, 0, *self.size) if isinstance(edit, SwapEdit) else edit.box
        return Change(edit.layer, box, edit.label)
