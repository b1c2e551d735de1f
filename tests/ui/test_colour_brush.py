"""The colour brush (P): strokes paint the picture itself (a sketch for SDEdit or Inpaint), undoable, leaving the
mask alone; Ctrl+click takes a colour from the picture; the next job reads the painted picture."""

import numpy as np
from PySide6.QtCore import Qt

from tests.ui.test_canvas import drag, viewport_point, window  # noqa: F401 (the fixture)
from tests.ui.test_main_window import generate_and_wait


def test_strokes_paint_the_picture_in_the_chosen_colour_and_undo_restores_it(qtbot, window):
    canvas = window.canvas
    before = window.document.picture.copy()
    window.commands.colour_brush.trigger()
    assert canvas.painting_picture and window.commands.colour_brush.isChecked()
    window.brush_options.set_color((10, 200, 30))
    window.brush_options.color_changed.emit((10, 200, 30))
    drag(qtbot, canvas, [viewport_point(canvas, 20.2, 20.2), viewport_point(canvas, 40.2, 20.2)])
    picture = window.document.picture
    assert tuple(picture[20, 30]) == (10, 200, 30) and np.array_equal(picture[5, 5], before[5, 5])
    assert not window.document.mask.any(), "the mask is not touched"
    assert window.document.history.undo_label == "Paint picture" and not window.document.picture_is_original
    window.undo()
    assert np.array_equal(window.document.picture, before)


def test_ctrl_click_takes_the_colour_under_the_pointer(qtbot, window):
    canvas = window.canvas
    window.commands.colour_brush.trigger()
    drag(qtbot, canvas, [viewport_point(canvas, 12.5, 9.5)], Qt.KeyboardModifier.ControlModifier)
    expected = tuple(int(v) for v in window.document.picture[9, 12])
    assert canvas.paint_color == expected and window.brush_options.current_color == expected
    assert window.document.history.undo_label is None, "taking a colour paints nothing"
    window.commands.brush.trigger()
    assert not canvas.painting_picture


def test_the_next_job_reads_the_painted_picture(qtbot, make_window, fake_model, picture_file):
    window = make_window()
    window.models.add_checkpoint(fake_model)
    assert window.open_picture(picture_file)
    window.commands.colour_brush.trigger()
    canvas = window.canvas
    drag(qtbot, canvas, [viewport_point(canvas, 10.2, 10.2)])
    window.recipe_panel.task.setCurrentIndex(window.recipe_panel.task.findData("sdedit"))
    window.recipe_panel.steps.setValue(2)
    request = generate_and_wait(qtbot, window)
    assert np.array_equal(request.picture, window.document.picture)
    assert request.recipe.image != str(picture_file)
