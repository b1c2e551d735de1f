"""The rectangle (M) and lasso (L) tools: a drag fills its shape in the mask in one undoable step; Alt-drag
takes it out; the brush (B) comes back with its own strokes."""

import numpy as np
from PySide6.QtCore import Qt

from tests.ui.test_canvas import drag, scene_point, viewport_point, window  # noqa: F401 (the fixture)


def points(canvas, *scene):
    return [viewport_point(canvas, x, y) for x, y in scene]


def test_a_rectangle_drag_fills_the_box_and_alt_takes_it_out(qtbot, window):
    canvas = window.canvas
    window.commands.rectangle.trigger()
    assert canvas.shape == "rectangle" and window.commands.rectangle.isChecked()
    press, release = points(canvas, (10.2, 8.2), (30.2, 20.2))
    drag(qtbot, canvas, [press, viewport_point(canvas, 20, 14), release])
    (x0, y0), (x1, y1) = scene_point(canvas, press), scene_point(canvas, release)
    mask = window.document.mask
    ys, xs = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    expected = (xs + 0.5 > x0) & (xs + 0.5 < x1) & (ys + 0.5 > y0) & (ys + 0.5 < y1)
    assert np.array_equal(mask == 255, expected)
    assert window.document.history.undo_label == "Fill rectangle"
    drag(qtbot, canvas, points(canvas, (12.2, 10.2), (20.2, 15.2)), Qt.KeyboardModifier.AltModifier)
    assert mask[12, 15] == 0 and mask[18, 25] == 255
    window.undo()
    assert mask[12, 15] == 255


def test_a_lasso_fills_the_area_it_goes_round(qtbot, window):
    canvas = window.canvas
    window.commands.lasso.trigger()
    drag(qtbot, canvas, points(canvas, (5.2, 5.2), (35.2, 5.2), (35.2, 25.2), (5.2, 25.2), (5.2, 6)))
    mask = window.document.mask
    assert mask[15, 20] == 255 and mask[2, 2] == 0 and (mask == 255).sum() > 400


def test_the_brush_comes_back_and_a_click_with_a_shape_tool_changes_nothing(qtbot, window):
    canvas = window.canvas
    window.commands.rectangle.trigger()
    drag(qtbot, canvas, points(canvas, (10.2, 10.2)))
    assert not window.document.mask.any() and not canvas.stroking
    window.commands.brush.trigger()
    assert canvas.shape is None and window.commands.brush.isChecked()
    drag(qtbot, canvas, points(canvas, (10.2, 10.2)))
    assert window.document.mask.any()
