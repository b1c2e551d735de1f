"""Expanding the canvas for outpainting: offsets, the new area's content and mask, one undoable step, limits."""

import numpy as np
import pytest
from PIL import Image

from studio.core.canvas import OVERLAP, CanvasError, Margins, expanded_mask, expanded_picture
from studio.core.images import max_picture_pixels
from studio.core.layers import LayeredDocument, control_layer

WIDTH, HEIGHT = 24, 16


def picture(width=WIDTH, height=HEIGHT):
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def document_with_mask_and_map():
    document = LayeredDocument(picture())
    document.mask[5:9, 10:14] = 200
    document.set_layer(control_layer(1), np.full(document.picture.shape, 90, np.uint8), "Make control map")
    return document


def test_the_picture_mask_and_layers_keep_their_pixels_at_the_offset():
    document = document_with_mask_and_map()
    before = document.picture.copy(), document.mask.copy(), document.layers[control_layer(1)].copy()
    change = document.expand_canvas(3, 5, 7, 2, overlap=2)
    assert document.size == (WIDTH + 10, HEIGHT + 7) and change.label == "Expand canvas"
    inside = np.s_[5:5 + HEIGHT, 3:3 + WIDTH]
    assert np.array_equal(document.picture[inside], before[0])
    assert np.array_equal(document.mask[inside][2:-2, 2:-2], before[1][2:-2, 2:-2]), "the mask, inside the bands"
    assert (document.mask[inside][5:9, 10:14] == 200).all()
    layer = document.layers[control_layer(1)]
    assert layer.shape == document.picture.shape and np.array_equal(layer[inside], before[2])
    layer[inside] = 0
    assert not layer.any(), "the map's new area is black: nothing painted"


def test_the_new_area_and_an_overlap_band_along_each_grown_side_are_masked():
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    grown = expanded_mask(mask, Margins(4, 0, 0, 3), overlap=2)
    assert grown.shape == (HEIGHT + 3, WIDTH + 4)
    assert (grown[:, :4 + 2] == 255).all(), "the new left strip and 2 px into the picture"
    assert (grown[HEIGHT - 2:, :] == 255).all(), "the new bottom strip and 2 px into the picture"
    assert not grown[:HEIGHT - 2, 4 + 2:].any(), "the sides that did not grow get no band"
    assert not expanded_mask(mask, Margins(0, 0, 5, 0), overlap=0)[:, :WIDTH].any()
    default = expanded_mask(mask, Margins(0, 0, 5, 0))
    assert (default[:, WIDTH - OVERLAP:] == 255).all() and not default[:, :WIDTH - OVERLAP].any()
    assert (expanded_mask(mask, Margins(0, 1, 0, 0), overlap=99) == 255).all(), "a band stops at the picture's edge"


def test_the_new_area_continues_the_edges_without_touching_the_picture():
    flat = np.full((HEIGHT, WIDTH, 3), 77, np.uint8)
    assert (expanded_picture(flat, Margins(6, 6, 6, 6)) == 77).all()
    halves = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    halves[:, :WIDTH // 2] = (255, 0, 0)
    halves[:, WIDTH // 2:] = (0, 0, 255)
    grown = expanded_picture(halves, Margins(0, 10, 0, 0))
    assert np.array_equal(grown[10:], halves)
    assert tuple(grown[0, 0]) == (255, 0, 0) and tuple(grown[0, -1]) == (0, 0, 255), "edges stretched outward"
    seam = grown[0, WIDTH // 2 - 2:WIDTH // 2 + 2, 0].astype(int)
    assert 0 < seam.min() < seam.max() < 255, "and blurred: no hard streak edges"


def test_expanding_is_one_undoable_step_for_picture_mask_and_layers():
    document = document_with_mask_and_map()
    before = (document.picture.copy(), document.mask.copy(), document.layers[control_layer(1)].copy())
    revision = document.picture_revision
    document.expand_canvas(2, 0, 6, 4)
    after = (document.picture.copy(), document.mask.copy(), document.layers[control_layer(1)].copy())
    assert document.history.undo_label == "Expand canvas" and document.picture_revision == revision + 1
    document.undo()
    assert document.size == (WIDTH, HEIGHT) and document.picture_revision == revision
    for now, then in zip((document.picture, document.mask, document.layers[control_layer(1)]), before):
        assert np.array_equal(now, then)
    document.redo()
    for now, then in zip((document.picture, document.mask, document.layers[control_layer(1)]), after):
        assert np.array_equal(now, then)


@pytest.mark.parametrize("sides, message", [
    ((-1, 0, 8, 0), "left is -1 px"),
    ((0, 0, 0, 0), "Nothing to expand"),
    ((0, 0, 200_000, 200_000), "megapixels, more than"),
])
def test_bad_requests_are_refused_with_a_message_and_change_nothing(sides, message):
    document = LayeredDocument(picture())
    with pytest.raises(CanvasError, match=message):
        document.expand_canvas(*sides)
    assert document.size == (WIDTH, HEIGHT) and not document.history.can_undo


def test_the_limit_is_the_largest_picture_studio_opens():
    assert max_picture_pixels() == 2 * Image.MAX_IMAGE_PIXELS  # beyond it Pillow refuses the file
    document = LayeredDocument(picture())
    document.expand_canvas(0, 0, 6, 4, max_pixels=(WIDTH + 6) * (HEIGHT + 4))
    with pytest.raises(CanvasError, match=r"A 30×21 canvas would be"):
        document.expand_canvas(0, 0, 0, 1, max_pixels=(WIDTH + 6) * (HEIGHT + 4))
    with pytest.raises(CanvasError, match="overlap must be 0 px or more"):
        document.expand_canvas(0, 0, 0, 1, overlap=-1)
