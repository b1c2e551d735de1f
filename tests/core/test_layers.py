"""Control-map layers: painted like the mask, undone in the document's one history, resized with the picture."""

import numpy as np
import pytest

from studio.core.brush import Brush
from studio.core.document import MASK, PICTURE, Document
from studio.core.layers import LayeredDocument, control_layer, resized


def picture(width=100, height=70):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def stroke(document, layer, points, brush):
    painting = document.begin_stroke(brush, layer)
    for point in points:
        painting.move_to(*point)
    return document.end_stroke(painting)


def test_a_map_stroke_paints_white_where_a_mask_stroke_paints_and_the_eraser_black():
    document = LayeredDocument(picture())
    name = control_layer(1)
    grey = np.full(document.picture.shape, 100, np.uint8)
    document.set_layer(name, grey, "Make control map")
    brush = Brush(size=12, hardness=0.5, opacity=0.8)
    points = [(10, 10), (60, 40), (80, 20)]
    stroke(document, MASK, points, brush)
    change = stroke(document, name, points, brush)
    assert change.layer == name and change.label == "Paint control map"
    painted = document.layers[name]
    expected = np.rint(100 + (255 - 100) * (document.mask.astype(np.float32) / 255)).astype(np.uint8)
    touched = document.mask > 0
    assert np.abs(painted[..., 0].astype(int) - expected.astype(int))[touched].max() <= 1
    assert (painted[~touched] == 100).all() and (painted[..., 0] == painted[..., 2]).all()

    erased = stroke(document, name, [(60, 40)], Brush(size=6, hardness=1.0, erase=True))
    assert erased.label == "Erase control map" and (document.layers[name][40, 60] == 0).all()


def test_map_strokes_undo_in_order_with_mask_strokes():
    document = LayeredDocument(picture())
    name = control_layer(3)
    document.set_layer(name, np.zeros_like(document.picture), "Make control map")
    first_serial = document.layer_serial(name)
    stroke(document, name, [(20, 20), (40, 20)], Brush(size=8, hardness=1.0))
    after_map = document.layers[name].copy()
    assert document.layer_serial(name) != first_serial
    stroke(document, MASK, [(50, 50)], Brush(size=8, hardness=1.0))
    assert document.history.undo_label == "Paint"
    assert document.undo().layer == MASK and not document.mask.any()
    assert np.array_equal(document.layers[name], after_map), "undoing the mask leaves the map"
    assert document.undo().layer == name and not document.layers[name].any()
    assert document.redo().layer == name and np.array_equal(document.layers[name], after_map)


def test_making_a_layer_is_undoable_and_remaking_it_too():
    document = LayeredDocument(picture())
    name = control_layer(0)
    first, second = np.full_like(document.picture, 10), np.full_like(document.picture, 200)
    change = document.set_layer(name, first, "Make control map")
    assert change.layer == name and change.box.width == 100 and document.has_layer(name)
    document.set_layer(name, second, "Make control map")
    assert document.undo() is not None and np.array_equal(document.layers[name], first)
    document.undo()
    assert not document.has_layer(name) and document.layer_serial(name) == 0
    document.redo()
    assert np.array_equal(document.layers[name], first)
    with pytest.raises(ValueError):
        document.set_layer(name, np.zeros((5, 5, 3), np.uint8), "Make control map")


def test_resizing_the_document_brings_mask_and_layers_along_and_undoes_in_one_step():
    original = picture(30, 20)
    document = LayeredDocument(original.copy())
    document.mask[5:10, 4:12] = 255
    name = control_layer(1)
    document.set_layer(name, np.full_like(original, 77), "Make control map")
    mask_before, serial = document.mask.copy(), document.picture_serial
    bigger = picture(120, 80)
    change = document.resize(bigger, "Apply upscaled result")
    assert change.layer == PICTURE and (change.box.width, change.box.height) == (120, 80)
    assert document.size == (120, 80) and np.array_equal(document.picture, bigger)
    assert np.array_equal(document.mask, np.repeat(np.repeat(mask_before, 4, 0), 4, 1)), "same region, as sharp"
    assert document.layers[name].shape == (80, 120, 3) and (document.layers[name] == 77).all()
    assert not document.picture_is_original and document.picture_serial != serial

    stroke(document, MASK, [(100, 70)], Brush(size=8, hardness=1.0))
    document.undo()
    document.undo()
    assert document.size == (30, 20) and np.array_equal(document.picture, original)
    assert np.array_equal(document.mask, mask_before) and document.layers[name].shape == (20, 30, 3)
    assert document.picture_is_original
    document.redo()
    assert document.size == (120, 80) and np.array_equal(document.picture, bigger)
    document.undo()
    assert document.history.nbytes > 0


def test_a_plain_document_is_adopted_with_its_history():
    plain = Document(picture())
    painting = plain.begin_stroke(Brush(size=8, hardness=1.0))
    painting.move_to(30, 30)
    plain.end_stroke(painting)
    layered = LayeredDocument.adopt(plain)
    assert layered.uid == plain.uid and layered.picture is plain.picture and layered.history is plain.history
    assert layered.layers == {} and LayeredDocument.adopt(layered) is layered
    layered.undo()
    assert not layered.mask.any()


def test_resized_is_nearest_neighbour():
    mask = np.array([[0, 255], [255, 0]], np.uint8)
    assert np.array_equal(resized(mask, (4, 4)), np.repeat(np.repeat(mask, 2, 0), 2, 1))
