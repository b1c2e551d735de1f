"""Studio's starter models in the window: offered on the first-run page when Studio ships them, chosen in one
click, announced in the panels as ignoring prompts, and run by the real engine like any other model."""

import shutil

import numpy as np
import pytest

from studio.ui.worker import EngineBackend
from tests.fixtures.tiny_starter import resources_without_starters
from tests.ui.conftest import choose, paint_stroke
from tests.ui.test_tasks_tiny_models import run_job

pytest.importorskip("torch")


@pytest.fixture
def shipped_starters(tmp_path, monkeypatch, tiny_model):
    """A resources folder like the repository's, with the tiny starter models in resources/starter/."""
    resources = resources_without_starters(tmp_path / "resources")
    for name in ("starter_photo", "starter_sr"):
        shutil.copytree(tiny_model(name), resources / "starter" / name)
    monkeypatch.setenv("STUDIO_RESOURCES", str(resources))
    return resources / "starter"


def test_without_shipped_starters_the_first_run_page_does_not_offer_them(make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RESOURCES", str(tmp_path / "empty"))
    window = make_window()
    assert window.pages.currentWidget() is window.welcome
    assert not window.welcome.use_starters.isVisible()


def test_the_first_run_page_offers_the_starters_and_one_click_chooses_them(make_window, shipped_starters):
    window = make_window()
    assert window.pages.currentWidget() is window.welcome
    assert window.welcome.use_starters.isVisible() and "ignore prompts" in window.welcome.hint.text()
    window.welcome.use_starters.click()
    assert window.models.current == str(shipped_starters.resolve() / "starter_photo")
    assert window.pages.currentWidget() is window.editor
    assert "ignore prompts" in window.message_bar.text
    panel = window.recipe_panel
    assert panel.upscale.current_path == str(shipped_starters.resolve() / "starter_sr")
    assert window.settings.model_folders == [str(shipped_starters.resolve())]  # kept for the next launch


@pytest.mark.parametrize("task", ["inpaint", "sdedit", "upscale"])
def test_the_panels_say_plainly_that_starter_models_ignore_prompts(make_window, shipped_starters, task):
    window = make_window()
    window.welcome.use_starters.click()
    panel = window.recipe_panel
    choose(panel.task, task)
    assert panel.starter_note.isVisible() and "ignore prompts" in panel.starter_note.text()
    assert not panel.prompt.isEnabled() and not panel.guidance.isEnabled() and not panel.sampler.isEnabled()
    assert panel.prompt.placeholderText() == "Starter models ignore prompts"
    assert panel.upscale.noise_level.isVisibleTo(panel.upscale) == (task != "upscale")  # the SD upscaler's only


def test_controlnet_units_are_hidden_and_left_out_of_starter_jobs(make_window, shipped_starters, tiny_model,
                                                                   picture_file):
    window = make_window()
    window.models.add_checkpoint(tiny_model("controlnet_sd1"))
    window.welcome.use_starters.click()
    assert window.open_picture(picture_file)
    panel = window.recipe_panel
    choose(panel.task, "sdedit")
    panel.controls.setChecked(True)  # chosen earlier, for a Stable Diffusion model
    assert not panel.controls.isVisible() and not panel.uses_controlnets
    assert window._job_inputs()[4] == []
    window.models.add_checkpoint(tiny_model("sd1"))  # back on a Stable Diffusion model: the units apply again
    assert panel.controls.isVisible() and len(window._job_inputs()[4]) == 1


def test_controlnet_on_a_starter_says_what_it_needs_and_sd_models_show_no_note(make_window, shipped_starters,
                                                                                tiny_model):
    window = make_window()
    window.welcome.use_starters.click()
    panel = window.recipe_panel
    choose(panel.task, "controlnet")
    assert panel.starter_note.isVisible() and "needs a Stable Diffusion model" in panel.starter_note.text()
    window.models.add_checkpoint(tiny_model("sd1"))
    choose(panel.task, "inpaint")
    assert not panel.starter_note.isVisible() and panel.prompt.isEnabled()


@pytest.mark.timeout(300)
def test_a_starter_inpaints_in_the_window_and_keeps_the_unmasked_pixels(qtbot, make_window, shipped_starters,
                                                                        picture_file):
    window = make_window(EngineBackend())
    window.welcome.use_starters.click()
    assert window.open_picture(picture_file)
    paint_stroke(window, [(30, 30), (50, 34)], size=16)
    panel = window.recipe_panel
    choose(panel.task, "inpaint")
    panel.steps.setValue(3)
    panel.mask_feather.setValue(0)
    before, mask = window.document.picture.copy(), window.document.mask.copy()
    run_job(qtbot, window)
    result = window.results.results[0]
    assert np.array_equal(result.pixels[mask == 0], before[mask == 0])
    assert not np.array_equal(result.pixels[mask > 0], before[mask > 0])
    assert result.metadata.run["family"] == "starter"


def test_the_batch_dialog_offers_no_guidance_or_sampler_sweep_on_a_starter(make_window, shipped_starters,
                                                                          picture_file):
    """Those axes change nothing on a starter model: a sweep over them would repeat the same picture."""
    window = make_window()
    window.welcome.use_starters.click()
    assert window.open_picture(picture_file)
    choose(window.recipe_panel.task, "sdedit")
    dialog = window.batches.ask_batch_export()
    for axis in ("guidance", "sampler"):
        assert not dialog.axes[axis].enabled.isEnabled() and "Starter models" in dialog.axes[axis].enabled.toolTip()
    for axis in ("steps", "strength", "seed"):
        assert dialog.axes[axis].enabled.isEnabled()
    dialog.reject()
