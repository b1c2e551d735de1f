"""ControlNet with tiny real models: loading, preprocessors, generation, and ControlNets in inpaint/SDEdit."""

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.errors import ModelError, StudioError
from studio.core.images import load_image
from studio.core.recipe import parse_recipe
from studio.engine.controlnet import load_controlnet
from studio.engine.jobs import run_recipe
from studio.engine.preprocessors import MissingAnnotatorWeights, control_map
from tests.fixtures.pictures import write_mask, write_picture
from tests.fixtures.tiny_controlnet import build_controlnet

W, H = 72, 56


@pytest.fixture
def picture(tmp_path):
    return write_picture(tmp_path / "p.png", W, H)


def recipe_for(tiny_model, picture, units, **changes):
    fields = {"task": "controlnet", "model": str(tiny_model("sd1")), "image": str(picture), "prompt": "a house",
              "steps": 3, "seed": 2, "sampler": "euler", "width": 64, "height": 48, "controlnets": units}
    return parse_recipe({**fields, **changes})


@pytest.mark.parametrize("flavour", ["sd1", "sdxl"])
@pytest.mark.parametrize("layout", ["single_file", "diffusers"])
def test_controlnets_load_exactly_from_both_layouts(tiny_model, store, flavour, layout):
    base = store.get(tiny_model(flavour))
    loaded = load_controlnet(tiny_model(f"controlnet_{flavour}", layout), base).state_dict()
    expected = build_controlnet(flavour).state_dict()
    assert set(loaded) == set(expected)
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_a_controlnet_of_another_family_is_refused(tiny_model, store):
    base = store.get(tiny_model("sd1"))
    with pytest.raises(ModelError, match="another model family"):
        load_controlnet(tiny_model("controlnet_sdxl"), base)
    with pytest.raises(ModelError, match="not a ControlNet"):
        load_controlnet(tiny_model("sd1"), base)


def test_canny_needs_no_weights_and_finds_edges():
    picture = np.zeros((64, 64, 3), np.uint8)
    picture[16:48, 16:48] = 255
    edges = control_map(picture, "canny", {"low_threshold": 50, "high_threshold": 100})
    assert edges.shape == (64, 64, 3)
    assert edges[32, 13:20].max() == 255  # the square's left side
    assert edges[24:40, 24:40].max() == 0 and edges[:8, :8].max() == 0  # flat areas have no edges


def test_missing_annotator_weights_name_the_file_and_folder(tmp_path):
    with pytest.raises(MissingAnnotatorWeights) as caught:
        control_map(np.zeros((32, 32, 3), np.uint8), "pose", folder=tmp_path)
    message = str(caught.value)
    assert "body_pose_model.pth" in message and "hand_pose_model.pth" in message and str(tmp_path) in message
    with pytest.raises(StudioError, match="unknown preprocessor 'sketchify'"):
        control_map(np.zeros((8, 8, 3), np.uint8), "sketchify")


@pytest.mark.parametrize("flavour", ["sd1", "sd1_inpaint"])  # an inpainting checkpoint: all of the picture masked
def test_generation_follows_the_control_and_keeps_the_picture_size(tiny_model, store, picture, flavour):
    unit = {"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny"}
    model = str(tiny_model(flavour))
    [steered] = run_recipe(recipe_for(tiny_model, picture, [unit], model=model), store)
    [unsteered] = run_recipe(recipe_for(tiny_model, picture, [{**unit, "scale": 0.0}], model=model), store)
    assert steered.pixels.shape == (H, W, 3)
    assert not np.array_equal(steered.pixels, unsteered.pixels)
    assert "controlnet0" in steered.metadata.hashes


def test_the_pipeline_receives_the_given_control_map(tiny_model, store, picture, tmp_path):
    """A map painted by the user (preprocessor none) reaches the ControlNet as it is."""
    painted = np.zeros((H, W, 3), np.uint8)
    painted[10:30, 20:50] = (255, 128, 0)
    Image.fromarray(painted).save(tmp_path / "map.png")
    unit = {"model": str(tiny_model("controlnet_sd1")), "image": str(tmp_path / "map.png")}
    controlnet = store.controlnet(tiny_model("controlnet_sd1")) if store.get(tiny_model("sd1")) else None
    received = []
    hook = controlnet.register_forward_pre_hook(
        lambda module, args, kwargs: received.append(kwargs["controlnet_cond"].clone()), with_kwargs=True
    )
    try:
        run_recipe(recipe_for(tiny_model, picture, [unit], width=72, height=56), store)
    finally:
        hook.remove()
    expected = torch.from_numpy(painted).permute(2, 0, 1).float() / 255.0
    got = received[0][0]
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1 / 255)


def test_two_controlnets_at_once(tiny_model, store, picture):
    units = [{"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny", "scale": 0.7},
             {"model": str(tiny_model("controlnet_sd1", "diffusers")), "preprocessor": "shuffle", "end": 0.5}]
    [result] = run_recipe(recipe_for(tiny_model, picture, units), store)
    assert result.pixels.shape == (H, W, 3)


@pytest.mark.parametrize("task", ["inpaint", "sdedit"])
def test_controlnet_in_masked_inpaint_and_sdedit_keeps_outside_pixels(tiny_model, store, picture, tmp_path, task):
    mask = write_mask(tmp_path / "m.png", W, H, (10, 10, 40, 40))
    unit = {"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny"}
    recipe = recipe_for(tiny_model, picture, [unit], task=task, mask=str(mask), inpaint_area="masked",
                        strength=0.8, width=64, height=64)
    [result] = run_recipe(recipe, store)
    original = load_image(picture)
    outside = np.ones((H, W), bool)
    outside[10:40, 10:40] = False
    assert np.array_equal(result.pixels[outside], original[outside])
    assert not np.array_equal(result.pixels[~outside], original[~outside])


def test_sdxl_controlnet_generation(tiny_model, store, picture):
    unit = {"model": str(tiny_model("controlnet_sdxl")), "preprocessor": "canny"}
    [result] = run_recipe(recipe_for(tiny_model, picture, [unit], model=str(tiny_model("sdxl"))), store)
    assert result.pixels.shape == (H, W, 3)
