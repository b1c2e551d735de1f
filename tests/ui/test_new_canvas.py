"""File ▸ New canvas… (Ctrl+N): a blank grey picture, all masked, with the Inpaint task chosen, so Generate paints a
picture from the prompt alone; sizes that cannot be made are refused in the dialog and by the window."""

import numpy as np

from studio.ui.new_canvas import NewCanvasDialog
from tests.ui.test_main_window import generate_and_wait


def test_a_new_canvas_is_all_masked_and_generates_from_the_prompt(qtbot, make_window, fake_model):
    window = make_window()
    window.models.add_checkpoint(fake_model)
    assert window.new_canvas(512, 768)
    assert window.document.size == (512, 768) and (window.document.mask == 255).all()
    assert window.recipe_panel.current_task == "inpaint" and "describe the picture" in window.message_bar.text
    window.recipe_panel.prompt.setPlainText("a lighthouse at dusk")
    window.recipe_panel.steps.setValue(2)
    request = generate_and_wait(qtbot, window)
    assert request.recipe.prompt == "a lighthouse at dusk" and request.mask is not None
    assert "Ctrl+N" in window.commands.new_canvas.toolTip()


def test_sizes_that_cannot_be_made_are_refused(qtbot, make_window):
    window = make_window()
    assert not window.new_canvas(500, 512) and "multiples of 8" in window.message_bar.text
    assert window.document is None
    dialog = NewCanvasDialog(window)
    qtbot.addWidget(dialog)
    dialog.preset.setCurrentIndex(dialog.preset.findText("1024 × 1024 (SDXL)"))
    assert dialog.size() == (1024, 1024) and dialog.buttons.buttons()[0].isEnabled()
    dialog.width_field.setValue(1020)
    assert dialog.preset.currentText() == "Custom" and not dialog.buttons.buttons()[0].isEnabled()
    assert "multiples of 8" in dialog.problem.text()
    dialog.width_field.setValue(16384)
    dialog.height_field.setValue(16384)
    assert "larger than Studio handles" in dialog.problem.text()
