import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from studio.core.masks import Box, bounding_box, composite, crop, expand_to_aspect, feather, grow, paste, shift_inside

masks = arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.sampled_from([0, 255, 128]))


def reference_grow(mask: np.ndarray, r: int) -> np.ndarray:
    padded = np.pad(mask, r)
    h, w = mask.shape
    return np.max([padded[dy:dy + h, dx:dx + w] for dy in range(2 * r + 1) for dx in range(2 * r + 1)], axis=0)


@settings(max_examples=60, deadline=None)
@given(masks, st.integers(0, 9))
def test_grow_equals_a_square_max_filter(mask, radius):
    assert np.array_equal(grow(mask, radius), reference_grow(mask, radius))


@settings(max_examples=60, deadline=None)
@given(masks, st.integers(1, 9))
def test_shrink_is_grow_of_the_inverse(mask, radius):
    shrunk = grow(mask, -radius)
    assert np.array_equal(255 - shrunk, reference_grow(255 - mask, radius))
    assert (shrunk <= mask).all()
    assert np.array_equal(grow(mask, 0), mask)


def test_grow_then_shrink_of_a_square():
    mask = np.zeros((20, 20), np.uint8)
    mask[8:12, 8:12] = 255
    assert bounding_box(grow(mask, 3)) == Box(5, 5, 15, 15)
    assert bounding_box(grow(grow(mask, 3), -3)) == Box(8, 8, 12, 12)
    assert bounding_box(grow(mask, -2)) is None


def test_feather_softens_only_near_the_edge():
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    soft = feather(mask, 3)
    assert soft[20, 20] == 255 and soft[0, 0] == 0
    assert 0 < soft[10, 20] < 255
    assert np.array_equal(feather(mask, 0), mask)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_composite_is_bit_identical_where_the_mask_is_zero(data):
    h, w = data.draw(st.integers(1, 16)), data.draw(st.integers(1, 16))
    original = data.draw(arrays(np.uint8, (h, w, 3)))
    generated = data.draw(arrays(np.uint8, (h, w, 3)))
    mask = data.draw(arrays(np.uint8, (h, w)))
    out = composite(original, generated, mask)
    assert np.array_equal(out[mask == 0], original[mask == 0])
    assert np.array_equal(out[mask == 255], generated[mask == 255])
    lo, hi = np.minimum(original, generated), np.maximum(original, generated)
    assert ((out >= lo) & (out <= hi)).all()


def test_composite_refuses_mismatched_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        composite(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8), np.zeros((4, 4), np.uint8))


def test_bounding_box():
    mask = np.zeros((10, 12), np.uint8)
    assert bounding_box(mask) is None
    mask[2, 3] = 1
    mask[6, 9] = 200
    assert bounding_box(mask) == Box(3, 2, 10, 7)


@given(st.integers(1, 300), st.integers(1, 300), st.floats(0.25, 4.0))
def test_expand_to_aspect_keeps_the_box_inside_and_matches_the_aspect(w, h, aspect):
    box = Box(10, 20, 10 + w, 20 + h)
    out = expand_to_aspect(box, aspect)
    assert out.left <= box.left and out.top <= box.top and out.right >= box.right and out.bottom >= box.bottom
    assert abs(out.width - out.height * aspect) <= max(1.0, aspect)


def test_crop_repeats_edges_outside_and_paste_drops_them():
    picture = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    box = Box(-2, -1, 4, 3)
    patch = crop(picture, box)
    assert patch.shape == (4, 6, 3)
    assert np.array_equal(patch[0, 0], picture[0, 0]) and np.array_equal(patch[1, 2], picture[0, 0])
    back = paste(picture, patch, box)
    assert np.array_equal(back, picture)


def test_shift_inside():
    assert shift_inside(Box(-5, -5, 5, 5), 100, 100) == Box(0, 0, 10, 10)
    assert shift_inside(Box(95, 0, 105, 10), 100, 100) == Box(90, 0, 100, 10)
    assert shift_inside(Box(0, 0, 120, 10), 100, 100) == Box(-10, 0, 110, 10)
