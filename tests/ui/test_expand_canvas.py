"""Edit ▸ Expand canvas…: the dialog's sides, presets and resulting size, the undoable edit in the window, the
switch to Inpaint, and outpainting end to end with a tiny real model."""

import numpy as np
import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from studio.core.canvas import Margins
from studio.core.masks import refine
from studio.ui.expand_canvas import ExpandCanvasDialog
from tests.ui.conftest import choose, paint_stroke, write_picture


def expand_button(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def preset(dialog, label):
    [button] = [button for button in dialog.preset_buttons if button.text() == label]
    button.click()


def test_the_command_needs_a_picture_and_has_its_own_shortcut(make_window, picture_file):
    window = make_window()
    action = window.commands.expand_canvas
    assert not action.isEnabled()
    assert window.open_picture(picture_file)
    assert action.isEnabled()
    edit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    assert action in edit_menu.actions()
    taken = [s for a in window.actions() if a is not action for s in a.shortcuts()]
    assert action.shortcut() == QKeySequence("Ctrl+Alt+C") and action.shortcut() not in taken


def test_presets_and_sides_show_the_resulting_size(qtbot):
    dialog = ExpandCanvasDialog((96, 64))
    qtbot.addWidget(dialog)
    assert dialog.result.text() == "96 × 64 px" and not expand_button(dialog).isEnabled()
    assert "Nothing to expand" in dialog.problem.text()
    preset(dialog, "+25% left and right")
    assert (dialog.margins().left, dialog.margins().right, dialog.margins().top) == (24, 24, 0)
    assert dialog.result.text() == "144 × 64 px" and expand_button(dialog).isEnabled()
    preset(dialog, "+25% top and bottom")
    assert dialog.margins() == Margins(0, 16, 0, 16) and dialog.result.text() == "96 × 96 px"
    preset(dialog, "+25% all sides")
    assert dialog.result.text() == "144 × 96 px"
    dialog.sides["right"].setValue(30)
    assert dialog.result.text() == "150 × 96 px"
    preset(dialog, "Reset")
    assert dialog.margins() == Margins(0, 0, 0, 0) and not expand_button(dialog).isEnabled()


def test_presets_are_multiples_of_8_and_a_too_large_canvas_is_refused(qtbot):
    dialog = ExpandCanvasDialog((20, 12))
    qtbot.addWidget(dialog)
    preset(dialog, "+25% all sides")
    assert dialog.margins() == Margins(8, 8, 8, 8)
    for side in dialog.sides.values():
        side.setValue(side.maximum())
    assert "megapixels" in dialog.problem.text() and not expand_button(dialog).isEnabled()


def test_expanding_in_the_window_is_one_undoable_step_and_chooses_inpaint(make_window, picture_file):
    window = make_window()
    assert window.open_picture(picture_file)
    paint_stroke(window, [(40, 30)], size=8)
    choose(window.recipe_panel.task, "sdedit")
    picture, mask = window.document.picture.copy(), window.document.mask.copy()
    assert window.expand_canvas(16, 0, 8, 0)
    assert window.document.size == (120, 64) and window.canvas.picture_item.pixmap().size().toTuple() == (120, 64)
    assert np.array_equal(window.document.picture[:, 16:112], picture)
    assert (window.document.mask[:, :16 + 8] == 255).all() and window.document.mask[30, 56] == mask[30, 40]
    assert window.recipe_panel.current_task == "inpaint" and "Generate" in window.message_bar.text
    assert window.size_label.text() == "120 × 64"
    window.commands.undo.trigger()
    assert np.array_equal(window.document.picture, picture) and np.array_equal(window.document.mask, mask)
    assert window.canvas.picture_item.pixmap().size().toTuple() == (96, 64)
    window.commands.redo.trigger()
    assert window.document.size == (120, 64)


def test_a_refused_expansion_says_why_and_changes_nothing(make_window, picture_file):
    window = make_window()
    assert window.open_picture(picture_file)
    assert not window.expand_canvas(-4, 0, 0, 0)
    assert "left is -4 px" in window.message_bar.text
    assert window.document.size == (96, 64) and not window.document.history.can_undo


def test_the_menu_command_asks_then_expands(make_window, picture_file, monkeypatch):
    window = make_window()
    assert window.open_picture(picture_file)

    def answer(dialog):
        preset(dialog, "+25% top and bottom")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExpandCanvasDialog, "exec", answer)
    window.commands.expand_canvas.trigger()
    assert window.document.size == (96, 96)
    monkeypatch.setattr(ExpandCanvasDialog, "exec", lambda dialog: QDialog.DialogCode.Rejected)
    window.commands.expand_canvas.trigger()
    assert window.document.size == (96, 96), "Cancel changes nothing"


@pytest.mark.timeout(300)
def test_outpainting_end_to_end_keeps_the_picture_outside_the_mask(qtbot, make_window, tiny_model, one_torch_thread,
                                                                  tmp_path):
    pytest.importorskip("torch")
    from studio.ui.worker import EngineBackend

    window = make_window(EngineBackend())
    window.models.add_checkpoint(tiny_model("sd1"))
    assert window.open_picture(write_picture(tmp_path / "small.png", 48, 32))
    assert window.expand_canvas(0, 0, 16, 8)
    panel = window.recipe_panel
    panel.steps.setValue(2)
    choose(panel.sampler, "euler")
    panel.custom_size.setChecked(True)
    panel.width_field.setValue(64)
    panel.height_field.setValue(64)
    choose(panel.inpaint_area, "masked")
    before, mask = window.document.picture.copy(), window.document.mask.copy()
    with qtbot.waitSignal(window.job_ended, timeout=240_000) as ended:
        assert window.generate() is not None, window.message_bar.text
    assert ended.args == ["finished"], window.message_bar.text
    result = window.results.results[0].pixels
    assert result.shape == (40, 64, 3)
    kept = refine(mask, panel.mask_grow.value(), panel.mask_feather.value()) == 0
    assert kept.any() and np.array_equal(result[kept], before[kept])
    assert window.apply_result(0) and window.document.size == (64, 40)
