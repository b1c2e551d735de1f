"""The Sampling group's seamless Tiling box: offered for the generating tasks, in the recipe, remembered and
restored; while it is ticked the hires fix is off (its tiled second pass would break the seams)."""

from studio.core.recipe import parse_recipe


def test_offered_for_generating_tasks_and_in_their_recipes(panel):
    for task, shown in (("inpaint", True), ("sdedit", True), ("controlnet", True), ("upscale", False)):
        panel.task.setCurrentIndex(panel.task.findData(task))
        assert panel.sampling_form.isRowVisible(panel.tiling) is shown, task
        assert ("tiling" in panel.recipe_values()) is shown, task
    panel.task.setCurrentIndex(panel.task.findData("sdedit"))
    assert panel.recipe_values()["tiling"] is False
    panel.tiling.setChecked(True)
    assert panel.recipe_values()["tiling"] is True


def test_ticking_it_turns_the_hires_fix_off(panel):
    panel.task.setCurrentIndex(panel.task.findData("sdedit"))
    panel.hires.setChecked(True)
    assert panel.recipe_values()["hires"] is not None
    panel.tiling.setChecked(True)
    assert not panel.hires.isEnabled() and panel.recipe_values()["hires"] is None
    assert panel.hires.toolTip() == "Not with seamless tiling"
    panel.tiling.setChecked(False)
    assert panel.hires.isEnabled() and panel.recipe_values()["hires"] is not None


def test_remembered_and_restored_from_a_recipe(panel):
    panel.tiling.setChecked(True)
    state = panel.state()
    panel.tiling.setChecked(False)
    panel.restore(state)
    assert panel.tiling.isChecked()
    panel.restore({"tiling": "no"})
    assert panel.tiling.isChecked(), "not a boolean: skipped"
    panel.show_recipe(parse_recipe({"task": "sdedit", "model": "m", "image": "a.png"}))
    assert not panel.tiling.isChecked()
    panel.show_recipe(parse_recipe({"task": "sdedit", "model": "m", "image": "a.png", "tiling": True}))
    assert panel.tiling.isChecked()
