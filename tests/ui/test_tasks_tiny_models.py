"""The task panels with the real engine and tiny real models: a control map edited on the canvas reaches the
ControlNet as edited; SDEdit keeps the pixels outside the mask; upscaling reports tiles and resizes on apply."""

import numpy as np
import pytest

from studio.core.brush import Brush
from studio.core.layers import control_layer
from studio.ui.worker import EngineBackend
from tests.ui.conftest import choose, paint_stroke, write_picture
from tests.ui.test_canvas import drag, viewport_point

pytest.importorskip("torch")
pytest.importorskip("tests.fixtures.tiny_controlnet")


class RecordingBackend(EngineBackend):
    """The real engine, recording the control image each ControlNet receives."""

    def __init__(self):
        super().__init__()
        self.received = []

    def generate(self, request, on_progress, cancel):
        store = self._model_store()
        store.get(request.recipe.model)
        hooks = [
            store.controlnet(unit.model).register_forward_pre_hook(
                lambda module, args, kwargs: self.received.append(kwargs["controlnet_cond"].detach().clone()),
                with_kwargs=True,
            )
            for unit in request.recipe.controlnets
        ]
        try:
            return super().generate(request, on_progress, cancel)
        finally:
            for hook in hooks:
                hook.remove()


def run_job(qtbot, window, timeout=240_000):
    with qtbot.waitSignal(window.job_ended, timeout=timeout) as ended:
        assert window.generate() is not None, window.message_bar.text
    assert ended.args == ["finished"], window.message_bar.text


def small_steps(panel, steps=2):
    panel.steps.setValue(steps)
    choose(panel.sampler, "euler")
    panel.custom_size.setChecked(True)
    panel.width_field.setValue(64)
    panel.height_field.setValue(64)


@pytest.mark.timeout(300)
def test_a_control_map_edited_on_the_canvas_is_the_one_the_pipeline_receives(qtbot, make_window, tiny_model, tmp_path):
    import torch

    backend = RecordingBackend()
    window = make_window(backend)
    window.models.add_checkpoint(tiny_model("sd1"))
    window.models.add_checkpoint(tiny_model("controlnet_sd1"))
    assert window.open_picture(write_picture(tmp_path / "square.png", 64, 64))
    panel = window.recipe_panel
    choose(panel.task, "controlnet")
    small_steps(panel)
    panel.prompt.setPlainText("a house")
    unit = panel.controls.units[0]
    assert unit.model.currentData() == str(tiny_model("controlnet_sd1").resolve())
    with qtbot.waitSignal(window.control_maps.edited, timeout=120_000):
        unit.make_map.click()  # canny, in the worker, through controlnet-aux
    name = control_layer(unit.key)
    made = window.document.layers[name].copy()
    unit.paint_map.setChecked(True)
    canvas = window.canvas
    canvas.set_zoom(4.0)
    canvas.centerOn(32, 32)
    canvas.set_brush(Brush(size=10, hardness=1.0))
    drag(qtbot, canvas, [viewport_point(canvas, 12, 40), viewport_point(canvas, 50, 40)])
    edited = window.document.layers[name].copy()
    assert not np.array_equal(edited, made)

    run_job(qtbot, window)
    assert backend.received, "the ControlNet ran"
    expected = torch.from_numpy(edited).permute(2, 0, 1).float() / 255.0
    got = backend.received[0][0]
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1 / 255), "the map as edited, not as the preprocessor made it"
    result = window.results.results[0]
    assert result.pixels.shape == (64, 64, 3) and result.metadata.recipe.controlnets[0].preprocessor == "none"


@pytest.mark.timeout(300)
def test_sdedit_with_a_mask_keeps_every_pixel_outside_it(qtbot, make_window, tiny_model, picture_file):
    window = make_window(EngineBackend())
    window.models.add_checkpoint(tiny_model("sd1"))
    assert window.open_picture(picture_file)
    paint_stroke(window, [(30, 30), (60, 34)], size=20)
    panel = window.recipe_panel
    choose(panel.task, "sdedit")
    small_steps(panel, steps=4)
    panel.strength.setValue(0.5)
    panel.mask_feather.setValue(0)
    choose(panel.inpaint_area, "masked")
    before, mask = window.document.picture.copy(), window.document.mask.copy()
    run_job(qtbot, window)
    result = window.results.results[0].pixels
    assert np.array_equal(result[mask == 0], before[mask == 0])
    assert not np.array_equal(result[mask > 0], before[mask > 0])


@pytest.mark.timeout(300)
def test_upscale_reports_tiles_and_apply_resizes_the_document(qtbot, make_window, tiny_model, tmp_path):
    window = make_window(EngineBackend())
    window.models.add_folder(tiny_model("upscaler"))
    assert window.open_picture(write_picture(tmp_path / "small.png", 24, 16))
    panel = window.recipe_panel
    choose(panel.task, "upscale")
    assert panel.upscale.current_path == str(tiny_model("upscaler").resolve())
    panel.steps.setValue(2)
    choose(panel.sampler, "ddim")
    panel.upscale.tile_size.setValue(16)
    panel.upscale.tile_overlap.setValue(4)
    statuses = []
    show_status = window.jobs.show_status
    window.jobs.show_status = lambda text, *rest: (statuses.append(text), show_status(text, *rest))
    values = []
    window.jobs.progress.valueChanged.connect(values.append)
    before = window.document.picture.copy()
    run_job(qtbot, window)
    assert any("tile 1/2" in text for text in statuses), statuses
    assert values == sorted(values) and values[-1] == 1000
    result = window.results.results[0]
    assert result.pixels.shape == (64, 96, 3)
    assert window.apply_result(0)
    assert window.document.size == (96, 64)
    window.undo()
    assert window.document.size == (24, 16) and np.array_equal(window.document.picture, before)


@pytest.mark.timeout(300)
def test_a_checkpoint_upscales_by_its_factor_with_an_embedding_named_in_the_prompt(qtbot, make_window, tiny_model,
                                                                                  tmp_path):
    from tests.fixtures.tiny_embeddings import save_a1111_embedding

    window = make_window(EngineBackend())
    window.models.add_checkpoint(tiny_model("sd1"))
    window.models.add_checkpoint(save_a1111_embedding(tmp_path / "models" / "inkwash.safetensors"))
    assert window.open_picture(write_picture(tmp_path / "small.png", 40, 32))
    panel = window.recipe_panel
    choose(panel.task, "upscale")
    assert panel.upscale.uses_checkpoint
    panel.upscale.factor.setValue(1.5)
    panel.strength.setValue(0.4)
    panel.steps.setValue(3)
    choose(panel.sampler, "euler")
    panel.prompt.setPlainText("a sharp photo, inkwash")
    run_job(qtbot, window)
    result = window.results.results[0]
    assert result.pixels.shape == (48, 64, 3)
    recipe = result.metadata.recipe
    assert recipe.upscale_factor == 1.5 and [e.name for e in recipe.embeddings] == ["inkwash"]
    assert window.apply_result(0) and window.document.size == (64, 48)


@pytest.mark.timeout(300)
def test_text_to_image_with_a_hires_fix_on_a_new_canvas_through_the_engine(qtbot, make_window, tiny_model):
    window = make_window(EngineBackend())
    window.models.add_checkpoint(tiny_model("sd1"))
    assert window.new_canvas(48, 32)
    panel = window.recipe_panel
    assert panel.current_task == "inpaint" and panel.hires.isVisible()
    panel.steps.setValue(2)
    choose(panel.sampler, "euler")
    panel.prompt.setPlainText("a harbour at night")
    panel.hires.setChecked(True)
    panel.hires.factor.setValue(2.0)
    panel.hires.strength.setValue(0.5)
    run_job(qtbot, window)
    result = window.results.results[0]
    assert result.pixels.shape == (64, 96, 3) and result.metadata.recipe.hires.factor == 2.0
    assert window.apply_result(0) and window.document.size == (96, 64)
