"""Rectangle and lasso mask shapes: the pixels they cover, clipped to the picture."""

import numpy as np
import pytest

from studio.core.masks import Box
from studio.core.shapes import shape_region


def test_a_rectangle_covers_the_pixels_between_press_and_release_in_any_direction():
    box, covered = shape_region((40, 30), "rectangle", [(30, 20), (25, 12), (10, 5)])
    assert box == Box(10, 5, 30, 20) and covered.all() and covered.shape == (15, 20)
    assert shape_region((40, 30), "rectangle", [(10, 5), (30, 20)])[0] == box


def test_shapes_are_clipped_to_the_picture_and_empty_ones_are_none():
    box, covered = shape_region((40, 30), "rectangle", [(-10, -10), (5, 8)])
    assert box == Box(0, 0, 5, 8) and covered.all()
    assert shape_region((40, 30), "rectangle", [(50, 50), (60, 60)]) is None
    assert shape_region((40, 30), "rectangle", [(5, 5)]) is None
    assert shape_region((40, 30), "rectangle", [(5, 5), (5, 20)]) is None  # no width
    assert shape_region((40, 30), "lasso", [(1, 1), (9, 9)]) is None


def test_a_lasso_covers_the_pixels_whose_centres_are_inside_the_path():
    box, covered = shape_region((40, 30), "lasso", [(0, 0), (20, 0), (0, 20)])  # a right triangle
    assert box == Box(0, 0, 20, 20)
    ys, xs = np.mgrid[0:20, 0:20]
    inside = (xs + 0.5) + (ys + 0.5) < 20
    assert (covered != inside).sum() <= 20  # the diagonal's pixels may go either way
    assert covered[0, 0] and covered[5, 5] and not covered[15, 15]


def test_an_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="unknown shape"):
        shape_region((4, 4), "circle", [(0, 0), (2, 2)])
