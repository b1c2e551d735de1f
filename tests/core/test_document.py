import numpy as np
import pytest

from studio.core.brush import Brush
from studio.core.document import MASK, PICTURE, Document, History, changed_box
from studio.core.masks import Box


def picture(width=64, height=48, value=90):
    return np.full((height, width, 3), value, np.uint8)


def paint(document, points, **brush):
    stroke = document.begin_stroke(Brush(**{"size": 10, "hardness": 1.0, **brush}))
    for x, y in points:
        stroke.move_to(x, y)
    return document.end_stroke(stroke)


def test_undo_and_redo_of_strokes_restore_the_mask_exactly():
    document = Document(picture())
    states = [document.mask.copy()]
    paint(document, [(10, 10), (40, 20)])
    states.append(document.mask.copy())
    assert paint(document, [(25, 15)], erase=True) is not None
    states.append(document.mask.copy())
    paint(document, [(5, 40), (60, 5)], hardness=0.3, opacity=0.6)
    states.append(document.mask.copy())
    for expected in reversed(states[:-1]):
        change = document.undo()
        assert change.layer == MASK
        assert np.array_equal(document.mask, expected)
    assert document.undo() is None
    for expected in states[1:]:
        document.redo()
        assert np.array_equal(document.mask, expected)
    assert document.redo() is None


def test_a_new_edit_drops_the_redo_branch():
    document = Document(picture())
    paint(document, [(10, 10)])
    document.undo()
    paint(document, [(30, 30)])
    assert not document.history.can_redo


def test_a_stroke_that_changes_nothing_is_not_an_undo_step():
    document = Document(picture())
    assert paint(document, [(10, 10)], erase=True) is None
    assert not document.history.can_undo


def test_undo_entries_follow_the_touched_area_not_the_picture():
    document = Document(np.zeros((4096, 4096, 3), np.uint8))
    change = paint(document, [(100, 100), (140, 100)])
    assert change.box.width <= 128 and change.box.height <= 128
    assert document.history.nbytes <= 2 * 128 * 128


def test_invert_and_clear_are_undoable():
    document = Document(picture())
    paint(document, [(10, 10)])
    painted = document.mask.copy()
    document.invert_mask()
    assert np.array_equal(document.mask, 255 - painted)
    document.clear_mask()
    assert not document.mask.any()
    document.undo()
    assert np.array_equal(document.mask, 255 - painted)
    document.undo()
    assert np.array_equal(document.mask, painted)
    assert document.clear_mask().label == "Clear mask"
    assert document.clear_mask() is None


def test_apply_result_is_one_undoable_step_over_the_changed_box():
    document = Document(picture())
    result = document.picture.copy()
    result[10:20, 30:35] = 200
    change = document.apply_result(result)
    assert change.layer == PICTURE and change.box == Box(30, 10, 35, 20)
    assert np.array_equal(document.picture, result)
    assert not document.picture_is_original
    document.undo()
    assert np.array_equal(document.picture, picture()) and document.picture_is_original
    document.redo()
    assert np.array_equal(document.picture, result)


def test_apply_result_of_another_size_is_refused():
    document = Document(picture())
    with pytest.raises(ValueError):
        document.apply_result(np.zeros((10, 10, 3), np.uint8))


def test_changed_box():
    a = np.zeros((5, 6), np.uint8)
    assert changed_box(a, a) is None
    b = a.copy()
    b[1, 2] = b[3, 4] = 1
    assert changed_box(a, b) == Box(2, 1, 5, 4)


def test_history_forgets_the_oldest_beyond_its_budget():
    document = Document(picture(256, 256))
    document.history = History(limit_bytes=3 * 2 * 64 * 64)
    for i in range(6):
        paint(document, [(20 + i * 40, 20)])
    undone = 0
    while document.undo():
        undone += 1
    assert 1 <= undone < 6
