"""Each task's panel behind the task selector, driven as a person would with a fake engine: SDEdit, ControlNet
(control maps made in the worker, shown, painted on the canvas, and given to the pipeline as painted) and upscale
(a result of another size: shown, applied with its mask, undone, exported)."""

import json
import threading

import numpy as np
import pytest
from PIL import Image

from studio.core.brush import Brush
from studio.core.images import load_image
from studio.core.layers import control_layer
from studio.core.metadata import read_metadata
from studio.core.recipe import TASKS
from studio.ui.control_panel import NO_WEIGHTS, PREPROCESSOR_CHOICES
from studio.ui.worker import EngineBackend
from tests.ui.fakes import FakeBackend
from tests.ui.test_canvas import drag, viewport_point
from tests.ui.test_main_window import generate_and_wait, paint_square


@pytest.fixture
def controlnet_file(tmp_path):
    """A file that lists as a ControlNet (its header says so); the fake backend never reads it."""
    from safetensors.numpy import save_file

    path = tmp_path / "models" / "control-canny.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"control_model.input_blocks.0.0.weight": np.zeros((4, 4, 1, 1), np.float32)}, str(path))
    return path


@pytest.fixture
def upscaler_folder(tmp_path):
    """A folder that lists as a ×4 upscaler (its model_index.json says so)."""
    folder = tmp_path / "models" / "x4-upscaler"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionUpscalePipeline"}))
    return folder


@pytest.fixture
def window_with(make_window, picture_file, fake_model):
    def make(backend=None, task="inpaint"):
        window = make_window(backend or FakeBackend())
        window.models.add_checkpoint(fake_model)
        assert window.open_picture(picture_file)
        window.recipe_panel.steps.setValue(3)
        choose_task(window, task)
        return window

    return make


def choose_task(window, task):
    panel = window.recipe_panel
    panel.task.setCurrentIndex(panel.task.findData(task))
    assert panel.current_task == task


def make_map(qtbot, window, unit):
    with qtbot.waitSignal(window.control_maps.edited, timeout=5000):
        unit.make_map.click()


# The task selector

def test_the_preprocessors_listed_are_the_engines():
    from studio.engine.preprocessors import PREPROCESSORS

    assert [key for key, _ in PREPROCESSOR_CHOICES] == ["none", *PREPROCESSORS]
    assert dict(PREPROCESSOR_CHOICES[1:]) == {p.id: p.label for p in PREPROCESSORS.values()}
    assert set(NO_WEIGHTS) - {"none"} == {p.id for p in PREPROCESSORS.values() if not p.weights}


def test_each_task_shows_its_own_panel(make_window):
    window = make_window()
    panel = window.recipe_panel
    model = panel.task.model()
    assert all(model.item(row).isEnabled() for row in range(panel.task.count()))
    assert [panel.task.itemData(row) for row in range(panel.task.count())] == list(TASKS)
    shown = {  # mask, ControlNets, upscale options, strength, size
        "inpaint": (True, True, False, True, True),
        "sdedit": (True, True, False, True, True),
        "controlnet": (False, True, False, False, True),
        "upscale": (False, False, True, False, False),
    }
    for task, (mask, controls, upscale, strength, size) in shown.items():
        choose_task(window, task)
        assert panel.mask_group.isVisibleTo(panel) == mask, task
        assert panel.controls.isVisibleTo(panel) == controls, task
        assert panel.upscale.isVisibleTo(panel) == upscale, task
        assert panel.sampling_form.isRowVisible(panel.strength) == strength, task
        assert panel.sampling_form.isRowVisible(panel.size_row) == size, task
    choose_task(window, "controlnet")
    assert not panel.controls.isCheckable() and len(panel.controls.units) == 1, "required, with one unit to start"
    choose_task(window, "sdedit")
    assert panel.controls.isCheckable() and not panel.controls.isChecked(), "optional, off until asked"
    choose_task(window, "upscale")
    assert not window.model_panel.combo.isEnabled(), "upscaling uses its own upscaler"


# SDEdit

def test_sdedit_changes_the_whole_picture_or_only_the_mask(qtbot, window_with):
    backend = FakeBackend()
    window = window_with(backend, "sdedit")
    panel = window.recipe_panel
    panel.strength.setValue(0.6)
    panel.guidance_type.setCurrentIndex(panel.guidance_type.findData("cfg_rescale"))
    before = window.document.picture.copy()
    generate_and_wait(qtbot, window)
    recipe = backend.requests[0].recipe
    assert (recipe.task, recipe.mask, recipe.strength) == ("sdedit", None, 0.6)
    assert recipe.guidance_type == "cfg_rescale" and "guidance_type" not in recipe.extras
    assert not np.array_equal(window.results.results[0].pixels, before), "no mask: the whole picture"

    paint_square(window)
    panel.mask_feather.setValue(0)
    panel.inpaint_area.setCurrentIndex(panel.inpaint_area.findData("masked"))
    generate_and_wait(qtbot, window)
    recipe = backend.requests[1].recipe
    mask = window.document.mask
    assert recipe.mask is not None and recipe.inpaint_area == "masked"
    result = window.results.results[0].pixels
    assert np.array_equal(result[mask == 0], before[mask == 0]) and not np.array_equal(result[mask > 0], before[mask > 0])
    assert window.apply_result(0)
    window.undo()
    assert np.array_equal(window.document.picture, before)


# ControlNet

def test_a_control_map_is_made_shown_painted_and_given_to_the_pipeline_as_painted(qtbot, window_with, controlnet_file):
    backend = FakeBackend()
    window = window_with(backend, "controlnet")
    base = window.model_panel.current_path
    window.models.add_checkpoint(controlnet_file)
    assert "1 ControlNet" in window.message_bar.text and window.model_panel.current_path == base
    unit = window.recipe_panel.controls.units[0]
    assert unit.model.currentData() == str(controlnet_file.resolve())
    unit.scale.setValue(0.8)
    unit.start.setValue(0.1)
    unit.end.setValue(0.9)

    make_map(qtbot, window, unit)
    [(preprocessor, params, thread)] = backend.map_calls
    assert (preprocessor, params) == ("canny", {"low_threshold": 100, "high_threshold": 200})
    assert thread != threading.current_thread().name, "made in the worker"
    name = control_layer(unit.key)
    made = window.document.layers[name].copy()
    assert np.array_equal(made, backend.control_map(window.document.picture, "canny", {}))
    canvas = window.canvas
    assert unit.show_map.isChecked() and canvas.shown_layer == name and canvas.layer_item.isVisible()
    unit.opacity.setValue(40)
    assert canvas.layer_item.opacity() == pytest.approx(0.4)

    unit.paint_map.setChecked(True)
    assert canvas.paint_layer == name
    canvas.set_zoom(3.0)
    canvas.centerOn(48, 32)
    canvas.set_brush(Brush(size=8, hardness=1.0))
    mask = window.document.mask.copy()
    drag(qtbot, canvas, [viewport_point(canvas, 20, 20), viewport_point(canvas, 40, 20)])
    layer = window.document.layers[name]
    assert made[20, 30].max() == 0 and (layer[20, 22:39] == 255).all(), "the brush paints white"
    window.set_erasing(True)
    drag(qtbot, canvas, [viewport_point(canvas, 30, 20)])
    assert (layer[20, 30] == 0).all() and (layer[20, 22] == 255).all(), "the eraser paints black"
    assert np.array_equal(window.document.mask, mask), "strokes went to the map, not the mask"
    assert window.commands.undo.text() == "&Undo Erase control map"
    window.commands.undo.trigger()
    assert (window.document.layers[name][20, 30] == 255).all()
    window.commands.redo.trigger()
    painted = window.document.layers[name].copy()
    assert (painted[20, 30] == 0).all()

    request = generate_and_wait(qtbot, window)
    [sent] = request.recipe.controlnets
    assert (sent.model, sent.preprocessor, sent.params) == (str(controlnet_file.resolve()), "none", {})
    assert (sent.scale, sent.start, sent.end) == (0.8, 0.1, 0.9)
    assert np.array_equal(load_image(sent.image), painted), "the pipeline gets the map as painted"
    again = generate_and_wait(qtbot, window)
    assert again.recipe.controlnets[0].image == sent.image, "an unchanged map is written once"
    window.set_erasing(False)
    drag(qtbot, canvas, [viewport_point(canvas, 10, 50)])
    third = generate_and_wait(qtbot, window)
    assert third.recipe.controlnets[0].image != sent.image
    assert np.array_equal(load_image(third.recipe.controlnets[0].image), window.document.layers[name])

    unit.paint_map.setChecked(False)
    assert canvas.paint_layer == "mask" and canvas.shown_layer == name
    unit.show_map.setChecked(False)
    assert not canvas.layer_item.isVisible()


def test_units_without_a_map_name_their_preprocessor_and_several_go_together(qtbot, window_with, controlnet_file):
    backend = FakeBackend()
    window = window_with(backend, "inpaint")
    window.models.add_checkpoint(controlnet_file)
    paint_square(window)
    controls = window.recipe_panel.controls
    generate_and_wait(qtbot, window)
    assert backend.requests[-1].recipe.controlnets == (), "optional for inpainting, and off"
    controls.setChecked(True)
    first = controls.units[0]
    second = controls.add_unit()
    second.preprocessor.setCurrentIndex(second.preprocessor.findData("depth"))
    assert not second.thresholds.isVisibleTo(second)
    make_map(qtbot, window, first)
    request = generate_and_wait(qtbot, window)
    one, two = request.recipe.controlnets
    assert one.preprocessor == "none" and one.image is not None
    assert (two.preprocessor, two.image, two.params) == ("depth", None, {})
    assert request.recipe.task == "inpaint"
    window.undo()  # the map's making is a step too
    assert not first.has_map and first.make_map.text() == "Make control map"
    request = generate_and_wait(qtbot, window)
    assert request.recipe.controlnets[0].preprocessor == "canny" and request.recipe.controlnets[0].image is None
    controls.remove_unit(first.key)
    assert [unit.title() for unit in controls.units] == ["ControlNet 1"]


def test_controlnet_without_a_controlnet_says_what_is_missing(qtbot, window_with):
    backend = FakeBackend()
    window = window_with(backend, "controlnet")
    controls = window.recipe_panel.controls
    assert window.generate() is None
    assert "ControlNet 1 has no model" in window.message_bar.text
    controls.remove_unit(controls.units[0].key)
    assert window.generate() is None
    assert "Add a ControlNet first" in window.message_bar.text and backend.requests == []


@pytest.mark.timeout(180)
def test_missing_annotator_weights_say_which_file_and_where(qtbot, make_window, picture_file, tmp_path, monkeypatch):
    folder = tmp_path / "annotators"
    monkeypatch.setenv("STUDIO_ANNOTATORS", str(folder))
    window = make_window(EngineBackend())
    assert window.open_picture(picture_file)
    choose_task(window, "controlnet")
    unit = window.recipe_panel.controls.units[0]
    unit.preprocessor.setCurrentIndex(unit.preprocessor.findData("pose"))
    unit.make_map.click()
    assert unit.make_map.text() == "Making the map…" and not unit.make_map.isEnabled()
    qtbot.waitUntil(lambda: bool(window.message_bar.text), timeout=120_000)
    text = window.message_bar.text
    assert text.startswith("Could not make the control map") and window.message_bar.level == "error"
    assert "body_pose_model.pth" in text and "hand_pose_model.pth" in text and str(folder) in text
    assert unit.make_map.isEnabled() and not unit.has_map and window.document.layers == {}


def test_a_map_made_for_another_picture_is_not_used(qtbot, window_with, tmp_path):
    from tests.ui.conftest import write_picture

    backend = FakeBackend()
    window = window_with(backend, "controlnet")
    unit = window.recipe_panel.controls.units[0]
    with qtbot.waitSignal(window.worker.worker.control_map_ready, timeout=5000):
        window.control_maps.make(unit.key)
        assert window.open_picture(write_picture(tmp_path / "other.png", 40, 30))
    qtbot.waitUntil(lambda: "make it again" in window.message_bar.text, timeout=5000)
    assert window.document.layers == {} and unit.make_map.isEnabled()


# Upscale

def test_a_checkpoint_upscales_by_its_factor_with_strength_loras_clip_skip_and_controlnets(qtbot, window_with, fake_model,
                                                                                          controlnet_file):
    backend = FakeBackend()
    window = window_with(backend, "upscale")
    window.models.add_checkpoint(controlnet_file)
    panel = window.recipe_panel
    assert panel.upscale.current_path == str(fake_model.resolve()) and panel.upscale.uses_checkpoint
    assert panel.upscale.result_size.text() == "96 × 64 → 192 × 128"
    panel.upscale.factor.setValue(1.5)
    assert panel.upscale.result_size.text() == "96 × 64 → 144 × 96"
    assert not panel.loras.isHidden() and panel.sampling_form.isRowVisible(panel.clip_skip)
    panel.strength.setValue(0.3)
    panel.clip_skip.setValue(2)
    assert panel.controls.isVisibleTo(panel) and panel.controls.isCheckable(), "a tile ControlNet, say: optional"
    assert "tile ControlNet" in panel.controls.toolTip()
    panel.controls.setChecked(True)
    request = generate_and_wait(qtbot, window)
    recipe = request.recipe
    assert (recipe.model, recipe.upscale_factor, recipe.strength, recipe.clip_skip) == (
        str(fake_model.resolve()), 1.5, 0.3, 2)
    assert [unit.model for unit in recipe.controlnets] == [str(controlnet_file.resolve())]
    panel.upscale.factor.setValue(3)
    panel.controls.setChecked(False)
    panel.show_recipe(recipe)
    assert panel.upscale.factor.value() == 1.5 and panel.clip_skip.value() == 2 and panel.controls.isChecked()


def test_upscale_makes_a_picture_four_times_larger_and_apply_resizes_with_undo(qtbot, window_with, upscaler_folder, tmp_path):
    backend = FakeBackend()
    backend.tiles = 3
    window = window_with(backend, "upscale")
    panel = window.recipe_panel
    assert panel.upscale.uses_checkpoint, "with no ×4 upscaler, the base model upscales"
    assert panel.upscale.form.isRowVisible(panel.upscale.factor) and panel.sampling_form.isRowVisible(panel.strength)
    assert not panel.upscale.form.isRowVisible(panel.upscale.tile_size)
    window.models.add_folder(upscaler_folder)
    assert "1 upscaler" in window.message_bar.text
    assert panel.upscale.current_path == str(upscaler_folder.resolve()), "a ×4 upscaler comes first"
    assert panel.upscale.result_size.text() == "96 × 64 → 384 × 256"
    assert not panel.upscale.form.isRowVisible(panel.upscale.factor) and not panel.sampling_form.isRowVisible(panel.strength)
    assert not panel.controls.isVisibleTo(panel) and not panel.uses_controlnets, "no ControlNets steer the ×4 upscaler"
    panel.upscale.noise_level.setValue(50)
    panel.upscale.tile_size.setValue(64)
    panel.upscale.tile_overlap.setValue(16)
    panel.prompt.setPlainText("sharp photo")
    paint_square(window)
    statuses = []
    show_status = window.jobs.show_status
    window.jobs.show_status = lambda text, *rest: (statuses.append(text), show_status(text, *rest))
    before, mask = window.document.picture.copy(), window.document.mask.copy()

    request = generate_and_wait(qtbot, window)
    recipe = request.recipe
    assert (recipe.task, recipe.model, recipe.mask, recipe.width) == ("upscale", str(upscaler_folder.resolve()), None, None)
    assert (recipe.noise_level, recipe.tile_size, recipe.tile_overlap, recipe.prompt) == (50, 64, 16, "sharp photo")
    assert "Step 1/3 · tile 1/3" in statuses and "Step 3/3 · tile 2/3" in statuses
    result = window.results.results[0]
    assert result.pixels.shape == (256, 384, 3) and result.changed is None
    assert "384 × 256" in window.results.info.text()
    assert window.canvas.previewing and window.canvas.preview_item.scale() == pytest.approx(0.25)

    exported = window.export_result(0, tmp_path / "out" / "big.png")
    assert Image.open(exported).size == (384, 256) and read_metadata(exported).recipe.task == "upscale"

    assert window.apply_result(0)
    document = window.document
    assert document.size == (384, 256) and np.array_equal(document.picture, result.pixels)
    assert np.array_equal(document.mask, np.repeat(np.repeat(mask, 4, 0), 4, 1)), "the mask covers the same region"
    assert window.canvas.picture_item.pixmap().size().toTuple() == (384, 256)
    assert window.size_label.text() == "384 × 256" and panel.upscale.result_size.text() == "384 × 256 → 1536 × 1024"
    window.commands.undo.trigger()
    assert document.size == (96, 64) and np.array_equal(document.picture, before)
    assert np.array_equal(document.mask, mask) and window.canvas.picture_item.pixmap().size().toTuple() == (96, 64)
    window.commands.redo.trigger()
    assert document.size == (384, 256)
    request = generate_and_wait(qtbot, window)
    assert np.array_equal(load_image(request.recipe.image), result.pixels), "the next job starts from the upscaled picture"


def test_an_inpainting_result_of_another_size_is_not_applied(qtbot, window_with, upscaler_folder):
    window = window_with(FakeBackend(), "inpaint")
    paint_square(window)
    generate_and_wait(qtbot, window)
    window.document.resize(np.zeros((10, 10, 3), np.uint8))
    assert not window.apply_result(0)
    assert window.document.size == (10, 10) and window.message_bar.level == "warning"
    assert "changed size" in window.message_bar.text


# Remembering

def test_units_and_upscale_options_persist_and_recipes_bring_back_their_maps(qtbot, make_window, window_with,
                                                                             controlnet_file, tmp_path):
    backend = FakeBackend()
    window = window_with(backend, "controlnet")
    window.models.add_checkpoint(controlnet_file)
    controls = window.recipe_panel.controls
    unit = controls.units[0]
    unit.scale.setValue(1.5)
    unit.low.setValue(40)
    window.recipe_panel.upscale.noise_level.setValue(75)
    make_map(qtbot, window, unit)
    unit.paint_map.setChecked(True)
    window.canvas.set_zoom(3.0)
    window.canvas.centerOn(48, 32)
    drag(qtbot, window.canvas, [viewport_point(window.canvas, 30, 30)])
    painted = window.document.layers[control_layer(unit.key)].copy()
    generate_and_wait(qtbot, window)
    exported = window.export_result(0, tmp_path / "out" / "controlled.png")
    window.close()

    again = make_window(FakeBackend())
    restored = again.recipe_panel.controls.units[0]
    assert again.recipe_panel.current_task == "controlnet"
    assert restored.model.currentData() == str(controlnet_file.resolve())
    assert restored.scale.value() == 1.5 and restored.low.value() == 40
    assert again.recipe_panel.upscale.noise_level.value() == 75

    assert again.open_picture(exported)
    unit = again.recipe_panel.controls.units[0]
    assert unit.preprocessor.currentData() == "none" and unit.scale.value() == 1.5
    assert np.array_equal(again.document.layers[control_layer(unit.key)], painted), "the map as painted"
    assert unit.has_map


def test_an_upscale_is_cancelled_between_steps_and_its_recipe_comes_back(qtbot, window_with, upscaler_folder, tmp_path):
    backend = FakeBackend(gated=True)
    window = window_with(backend, "upscale")
    window.models.add_folder(upscaler_folder)
    window.recipe_panel.steps.setValue(20)
    window.generate_button.click()
    backend.release(2)
    qtbot.waitUntil(lambda: backend.steps_run == 2, timeout=5000)
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        window.generate_button.click()
        backend.release()
    assert ended.args == ["cancelled"] and backend.steps_run <= 3 and window.document.size == (96, 64)

    backend.gate = None
    window.recipe_panel.steps.setValue(2)
    window.recipe_panel.upscale.noise_level.setValue(120)
    generate_and_wait(qtbot, window)
    exported = window.export_result(0, tmp_path / "out" / "up.png")
    choose_task(window, "inpaint")
    window.recipe_panel.upscale.noise_level.setValue(5)
    assert window.open_picture(exported)
    panel = window.recipe_panel
    assert panel.current_task == "upscale" and panel.upscale.noise_level.value() == 120
    assert panel.upscale.current_path == str(upscaler_folder.resolve())
    assert window.document.size == (384, 256) and "Recipe restored" in window.message_bar.text


def test_a_controlnet_folder_in_a_models_folder_is_listed_as_the_folder(make_window, controlnet_file):
    folder = controlnet_file.parent / "control-depth"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "ControlNetModel"}))
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(controlnet_file.read_bytes())
    window = make_window()
    window.models.add_folder(controlnet_file.parent)
    choose_task(window, "controlnet")
    combo = window.recipe_panel.controls.units[0].model
    listed = {combo.itemText(i): combo.itemData(i) for i in range(combo.count())}
    assert listed == {"control-canny": str(controlnet_file.resolve()), "control-depth": str(folder.resolve())}
    assert "2 ControlNets" in window.message_bar.text
