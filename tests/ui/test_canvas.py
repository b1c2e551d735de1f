"""Painting and navigating on the canvas, with real mouse and key events."""

import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from studio.core.brush import Brush
from studio.core.document import Document


def disc(shape, cx, cy, radius):
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    return np.hypot(xs + 0.5 - cx, ys + 0.5 - cy) <= radius


def distance_to_segment(shape, a, b):
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    px, py = xs + 0.5, ys + 0.5
    (ax, ay), (bx, by) = a, b
    t = np.clip(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    return np.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))


@pytest.fixture
def window(make_window, picture_file):
    window = make_window()
    assert window.open_picture(picture_file)
    window.canvas.set_zoom(3.0)
    window.canvas.centerOn(48, 32)
    window.canvas.set_brush(Brush(size=10, hardness=1.0, opacity=1.0))
    return window


def viewport_point(canvas, x, y) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


def scene_point(canvas, point: QPoint):
    p = canvas.to_scene(QPointF(point))
    return p.x(), p.y()


def drag(qtbot, canvas, points, modifier=Qt.KeyboardModifier.NoModifier):
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, points[0])
    for point in points[1:]:
        qtbot.mouseMove(viewport, point)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, points[-1])


def test_a_click_paints_exactly_the_disc_under_the_brush(qtbot, window):
    canvas = window.canvas
    point = viewport_point(canvas, 30.2, 20.7)
    drag(qtbot, canvas, [point])
    cx, cy = scene_point(canvas, point)
    mask = window.document.mask
    assert np.array_equal(mask == 255, disc(mask.shape, cx, cy, 5))
    assert set(np.unique(mask)) == {0, 255}


def test_a_drag_paints_exactly_the_pixels_the_brush_passes_over(qtbot, window):
    canvas = window.canvas
    start, end = viewport_point(canvas, 20, 20), viewport_point(canvas, 70, 40)
    drag(qtbot, canvas, [start, end])
    distance = distance_to_segment(window.document.mask.shape, scene_point(canvas, start), scene_point(canvas, end))
    mask = window.document.mask
    assert (mask[distance <= 4.95] == 255).all(), "everything the brush covered is painted"
    assert (mask[distance > 5] == 0).all(), "nothing outside the brush is touched"


def test_eraser_and_undo_redo_with_the_keyboard(qtbot, window):
    canvas = window.canvas
    drag(qtbot, canvas, [viewport_point(canvas, 20, 20), viewport_point(canvas, 70, 20)])
    painted = window.document.mask.copy()
    qtbot.keyClick(canvas, Qt.Key.Key_E)
    assert canvas.erasing
    drag(qtbot, canvas, [viewport_point(canvas, 45, 20)])
    erased = window.document.mask.copy()
    assert erased.sum() < painted.sum()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(window.document.mask, painted)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not window.document.mask.any()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(window.document.mask, painted)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(window.document.mask, erased)
    qtbot.keyClick(canvas, Qt.Key.Key_B)
    assert not canvas.erasing


def test_shift_click_draws_a_straight_line_from_the_last_stroke(qtbot, window):
    canvas = window.canvas
    first, second = viewport_point(canvas, 15, 15), viewport_point(canvas, 75, 45)
    drag(qtbot, canvas, [first])
    drag(qtbot, canvas, [second], Qt.KeyboardModifier.ShiftModifier)
    distance = distance_to_segment(window.document.mask.shape, scene_point(canvas, first), scene_point(canvas, second))
    assert (window.document.mask[distance <= 4.95] == 255).all()


def test_bracket_keys_resize_the_brush(qtbot, window):
    canvas = window.canvas
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush.size > 10
    assert window.brush_options.size.value() == round(canvas.brush.size)
    for _ in range(3):
        qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush.size < 10


def test_invert_and_clear_mask_are_undoable(qtbot, window):
    canvas = window.canvas
    drag(qtbot, canvas, [viewport_point(canvas, 30, 30)])
    painted = window.document.mask.copy()
    window.commands.invert_mask.trigger()
    assert np.array_equal(window.document.mask, 255 - painted)
    window.commands.clear_mask.trigger()
    assert not window.document.mask.any()
    window.commands.undo.trigger()
    window.commands.undo.trigger()
    assert np.array_equal(window.document.mask, painted)


def test_wheel_zooms_about_the_cursor_and_fit_and_100_percent(qtbot, window):
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    canvas = window.canvas
    anchor = viewport_point(canvas, 40, 25)
    before = scene_point(canvas, anchor)
    event = QWheelEvent(QPointF(anchor), QPointF(canvas.viewport().mapToGlobal(anchor)), P(0, 0), P(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(event)
    assert canvas.zoom == pytest.approx(3.0 * 1.2**2)
    after = scene_point(canvas, anchor)
    assert after == pytest.approx(before, abs=0.5), "the point under the cursor stays put"
    window.commands.actual_size.trigger()
    assert canvas.zoom == 1.0
    window.commands.fit.trigger()
    view = canvas.viewport().rect()
    assert canvas.zoom == pytest.approx(min((view.width() - 24) / 96, (view.height() - 24) / 64))


def test_space_drag_and_middle_drag_pan_without_painting(qtbot, window):
    canvas, viewport = window.canvas, window.canvas.viewport()
    start = viewport_point(canvas, 48, 32)
    before = scene_point(canvas, start)
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=start)
    qtbot.mouseMove(viewport, start + QPoint(30, 12))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=start + QPoint(30, 12))
    moved = scene_point(canvas, start)
    assert moved[0] == pytest.approx(before[0] - 10, abs=0.5) and moved[1] == pytest.approx(before[1] - 4, abs=0.5)
    canvas.setFocus()
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    drag(qtbot, canvas, [start, start + QPoint(-30, 0)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert scene_point(canvas, start)[0] == pytest.approx(moved[0] + 10, abs=0.5)
    assert not window.document.mask.any(), "panning never paints"


def test_strokes_redraw_only_the_overlay_tiles_they_touch(qtbot, make_window):
    window = make_window()
    window.set_document(Document(np.zeros((8192, 8192, 3), np.uint8)))
    canvas = window.canvas
    canvas.set_zoom(1.0)
    canvas.centerOn(4000, 4000)
    canvas.set_brush(Brush(size=60, hardness=0.5))
    qtbot.wait(50)
    overlay = canvas.overlay_item
    built_before = overlay.tiles_built
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=viewport_point(canvas, 3900, 4000))
    started = time.perf_counter()
    moves = 40
    for i in range(moves):
        qtbot.mouseMove(viewport, viewport_point(canvas, 3900 + i * 5, 4000 + i * 2))
        canvas.viewport().repaint()
    elapsed = time.perf_counter() - started
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=viewport_point(canvas, 4100, 4080))
    assert overlay.tiles_built - built_before < 200, "only tiles near the stroke are rebuilt"
    assert elapsed / moves < 0.05, f"{elapsed / moves * 1000:.1f} ms per move on an 8192² picture"
    assert window.document.history.nbytes < 4_000_000
