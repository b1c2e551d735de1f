"""The hires fix group (A1111's second pass): offered for the generating tasks of Stable Diffusion models, off by
default, in the job's recipe when ticked, remembered, restored from a recipe or an A1111 text; its result
enlarges the picture when applied (undoable)."""

import numpy as np

from studio.core.recipe import parse_recipe
from tests.ui.fakes import FakeBackend
from tests.ui.test_main_window import generate_and_wait, paint_square
from tests.ui.test_task_panels import choose_task, window_with  # noqa: F401 (fixture)


def test_offered_for_generating_tasks_only(panel):
    for task, shown in (("inpaint", True), ("sdedit", True), ("controlnet", True), ("upscale", False)):
        panel.task.setCurrentIndex(panel.task.findData(task))
        assert panel.hires.isVisible() is shown, task
        assert ("hires" in panel.recipe_values()) is shown, task


def test_off_by_default_and_in_the_recipe_when_ticked(panel):
    panel.task.setCurrentIndex(panel.task.findData("sdedit"))
    assert not panel.hires.isChecked() and panel.recipe_values()["hires"] is None
    panel.hires.setChecked(True)
    panel.hires.factor.setValue(1.5)
    panel.hires.strength.setValue(0.35)
    assert panel.recipe_values()["hires"] == {"factor": 1.5, "strength": 0.35, "steps": 0}
    assert panel.hires.steps.text() == "Same as Steps"


def test_remembered_and_restored_from_a_recipe(panel):
    panel.hires.setChecked(True)
    panel.hires.steps.setValue(12)
    state = panel.state()
    panel.hires.setChecked(False)
    panel.restore(state)
    assert panel.hires.isChecked() and panel.hires.steps.value() == 12
    panel.restore({"hires": {"use": "yes", "factor": 99, "strength": "x", "steps": 2.5}})  # all skipped
    assert panel.hires.isChecked() and panel.hires.factor.value() == 2.0 and panel.hires.steps.value() == 12
    recipe = parse_recipe({"task": "sdedit", "model": "m", "image": "a.png", "hires": {"factor": 3, "strength": 0.6}})
    panel.show_recipe(recipe)
    assert (panel.hires.isChecked(), panel.hires.factor.value(), panel.hires.strength.value(),
            panel.hires.steps.value()) == (True, 3.0, 0.6, 0)
    panel.show_recipe(recipe.replace(hires=None))
    assert not panel.hires.isChecked()


def test_a_hires_result_enlarges_the_picture_when_applied_and_undo_brings_it_back(qtbot, window_with):
    window = window_with(FakeBackend(), "inpaint")
    paint_square(window)
    window.recipe_panel.hires.setChecked(True)
    before = window.document.picture.copy()
    request = generate_and_wait(qtbot, window)
    assert request.recipe.hires.factor == 2.0
    result = window.results.results[0]
    assert result.pixels.shape == (128, 192, 3) and window.canvas.previewing
    assert window.apply_result(0), window.message_bar.text
    assert window.document.size == (192, 128)
    assert window.commands.undo.text().endswith("Apply hires result")
    window.commands.undo.trigger()
    assert window.document.size == (96, 64) and np.array_equal(window.document.picture, before)
