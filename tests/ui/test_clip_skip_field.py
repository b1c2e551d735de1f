"""The "Clip skip" field of the Sampling group: A1111's numbering, 1 to 12, given to the recipe of Stable Diffusion
jobs, shown from a recipe, remembered between launches (checked before Qt sees it), off for the starter models and
the ×4 upscaler."""

import pytest

from studio.core.recipe import parse_recipe
from tests.ui.conftest import choose


def test_the_field_sits_in_the_sampling_group_and_feeds_the_recipe(panel):
    assert (panel.clip_skip.minimum(), panel.clip_skip.maximum(), panel.clip_skip.value()) == (1, 12, 1)
    assert panel.sampling_form.labelForField(panel.clip_skip).text() == "Clip skip"
    assert panel.recipe_values()["clip_skip"] == 1
    panel.clip_skip.setValue(2)
    values = panel.recipe_values()
    assert values["clip_skip"] == 2
    recipe = parse_recipe({**values, "model": "m.safetensors", "image": "a.png", "mask": "m.png"})
    assert recipe.clip_skip == 2


def test_the_upscaler_hides_it_and_its_recipe_leaves_it_out(panel):
    panel.clip_skip.setValue(3)
    choose(panel.task, "upscale")
    assert not panel.clip_skip.isVisibleTo(panel) and "clip_skip" not in panel.recipe_values()
    choose(panel.task, "sdedit")
    assert panel.clip_skip.isVisibleTo(panel) and panel.recipe_values()["clip_skip"] == 3


def test_starter_models_disable_it_like_guidance(panel):
    panel._starter_paths = {"/models/starter_photo"}  # what set_models finds for a starter entry
    panel.set_base_model("/models/starter_photo")
    assert not panel.clip_skip.isEnabled() and not panel.guidance.isEnabled()
    assert "clip_skip" not in panel.recipe_values()
    panel.set_base_model("/models/anime.safetensors")
    assert panel.clip_skip.isEnabled() and panel.recipe_values()["clip_skip"] == 1


def test_show_recipe_restores_it(panel):
    base = {"task": "sdedit", "model": "m.safetensors", "image": "a.png"}
    panel.show_recipe(parse_recipe({**base, "clip_skip": 2}))
    assert panel.clip_skip.value() == 2
    panel.show_recipe(parse_recipe(base))
    assert panel.clip_skip.value() == 1
    panel.clip_skip.setValue(4)
    panel.show_recipe(parse_recipe({"task": "upscale", "model": "x4", "image": "a.png"}))
    assert panel.clip_skip.value() == 4  # an upscale recipe has none: the one shown stays


@pytest.mark.parametrize("bad", [0, 13, 2.5, "2", True, None, float("nan"), 10**30, [2]])
def test_remembered_values_are_checked_before_qt_sees_them(panel, bad):
    panel.restore({"clip_skip": 3})
    assert panel.state()["clip_skip"] == 3
    panel.restore({"clip_skip": bad, "steps": 12})
    assert panel.clip_skip.value() == 3 and panel.steps.value() == 12  # skipped; the rest still applies
