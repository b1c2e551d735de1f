import time

import numpy as np
import pytest

from studio.core.brush import TILE, Brush, MaskStroke, bigger, dab_alpha, smaller
from studio.core.masks import Box


def disc(shape, cx, cy, radius):
    """Pixels whose centres lie within `radius` of (cx, cy), computed independently of the brush code."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    return (xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= radius**2


def capsule(shape, x0, x1, y, radius):
    """Pixels within `radius` of the horizontal segment from (x0, y) to (x1, y)."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    nearest = np.clip(xs + 0.5, x0, x1)
    return (xs + 0.5 - nearest) ** 2 + (ys + 0.5 - y) ** 2 <= radius**2


def test_one_hard_dab_paints_exactly_the_disc_under_it():
    mask = np.zeros((40, 50), np.uint8)
    stroke = MaskStroke(mask, Brush(size=14, hardness=1.0, opacity=1.0))
    box = stroke.move_to(20.5, 15.5)
    expected = disc(mask.shape, 20.5, 15.5, 7)
    assert np.array_equal(mask == 255, expected)
    assert set(np.unique(mask)) == {0, 255}
    ys, xs = np.nonzero(mask)
    assert box.left <= xs.min() and xs.max() < box.right and box.top <= ys.min() and ys.max() < box.bottom


def test_a_hard_line_paints_exactly_the_capsule_along_it():
    mask = np.zeros((60, 80), np.uint8)
    stroke = MaskStroke(mask, Brush(size=10, hardness=1.0, opacity=1.0, spacing=0.1))
    stroke.move_to(10.5, 30.5)
    stroke.move_to(60.5, 30.5)
    assert np.array_equal(mask == 255, capsule(mask.shape, 10.5, 60.5, 30.5, 5))
    assert stroke.dirty == Box(5, 25, 66, 36)


def test_erasing_clears_exactly_the_disc():
    mask = np.full((30, 30), 255, np.uint8)
    MaskStroke(mask, Brush(size=8, hardness=1.0, erase=True)).move_to(15.0, 15.0)
    assert np.array_equal(mask == 0, disc(mask.shape, 15.0, 15.0, 4))


def test_soft_brush_falls_off_from_a_hard_core():
    brush = Brush(size=40, hardness=0.5)
    alpha = dab_alpha(20.0, 20.0, brush, Box(0, 0, 40, 40))
    assert alpha[19, 19] == 1.0  # inside the core
    row = alpha[19, 20:]
    assert (np.diff(row) <= 1e-6).all(), "falls off monotonically"
    assert 0 < alpha[19, 20 + 15] < 1
    assert alpha[0, 0] == 0.0  # outside the radius


def test_opacity_caps_one_stroke_and_strokes_build_up():
    mask = np.zeros((20, 40), np.uint8)
    brush = Brush(size=6, hardness=1.0, opacity=0.5, spacing=0.05)
    stroke = MaskStroke(mask, brush)
    for x in range(5, 35):
        stroke.move_to(x + 0.5, 10.5)
    stroke.move_to(5.5, 10.5)  # back over the same pixels
    assert mask.max() == 128
    MaskStroke(mask, brush).move_to(20.5, 10.5)
    assert mask[10, 20] == 128 + round(127 * 0.5)


def test_a_one_pixel_brush_marks_the_pixel_under_the_cursor():
    mask = np.zeros((10, 10), np.uint8)
    MaskStroke(mask, Brush(size=1, hardness=1.0)).move_to(3.0, 7.0)
    assert mask[7, 3] == 255


def test_dabs_off_the_picture_are_clipped():
    mask = np.zeros((10, 10), np.uint8)
    stroke = MaskStroke(mask, Brush(size=6, hardness=1.0))
    assert stroke.move_to(-20.0, -20.0) is None
    box = stroke.move_to(0.0, 0.0)
    assert box.left == 0 and box.top == 0
    assert mask[0, 0] == 255


def test_patches_hold_only_the_tiles_that_changed():
    mask = np.zeros((TILE * 4, TILE * 4), np.uint8)
    stroke = MaskStroke(mask, Brush(size=8, hardness=1.0))
    stroke.move_to(TILE + 10.5, TILE + 10.5)
    patches = stroke.patches()
    assert len(patches) == 1
    box, before, after = patches[0]
    assert box == Box(TILE, TILE, 2 * TILE, 2 * TILE)
    assert not before.any() and np.array_equal(after, mask[TILE:2 * TILE, TILE:2 * TILE])


def test_size_steps_for_the_bracket_keys():
    assert bigger(10) > 10 and smaller(10) < 10
    assert smaller(1) == 1 and bigger(1) == 2
    assert Brush().resized(0).size == 1


@pytest.mark.timeout(60)
def test_a_stroke_on_an_8192_picture_costs_what_it_touches():
    """The same stroke on a small mask and on an 8192² mask takes about the same time and memory."""
    def paint(side):
        mask = np.zeros((side, side), np.uint8)
        stroke = MaskStroke(mask, Brush(size=40, hardness=0.7))
        started = time.perf_counter()
        for i in range(200):
            stroke.move_to(100 + i * 2.0, 100 + i * 1.5)
        return time.perf_counter() - started, stroke.patches()

    paint(1024)  # warm up
    small_time, small_patches = paint(1024)
    big_time, big_patches = paint(8192)
    assert len(big_patches) == len(small_patches)
    assert sum(b.nbytes + a.nbytes for _, b, a in big_patches) < 1_000_000
    assert big_time < small_time * 3 + 0.05


def test_a_colour_brush_on_a_colour_layer_paints_its_colour_and_masks_ignore_it():
    from studio.core.brush import MaskStroke

    picture = np.full((20, 20, 3), 100, np.uint8)
    stroke = MaskStroke(picture, Brush(size=6, hardness=1.0, color=(255, 0, 40)))
    stroke.move_to(10, 10)
    assert tuple(picture[10, 10]) == (255, 0, 40) and tuple(picture[0, 0]) == (100, 100, 100)
    half = MaskStroke(np.full((20, 20, 3), 100, np.uint8), Brush(size=6, hardness=1.0, opacity=0.5, color=(200, 0, 0)))
    half.move_to(10, 10)
    assert tuple(half.mask[10, 10]) == (150, 50, 50)
    mask = np.zeros((20, 20), np.uint8)
    MaskStroke(mask, Brush(size=6, hardness=1.0, color=(255, 0, 40))).move_to(10, 10)
    assert mask[10, 10] == 255
