"""SDEdit (img2img) with tiny real models: strength, whole picture and masked region."""

import numpy as np
import pytest

from studio.core.errors import StudioError
from studio.core.images import load_image
from studio.core.recipe import parse_recipe
from studio.engine.jobs import run_recipe
from tests.fixtures.pictures import write_mask, write_picture


@pytest.fixture
def picture(tmp_path):
    return write_picture(tmp_path / "p.png", 75, 58)


def recipe_for(model, picture, **changes):
    fields = {"task": "sdedit", "model": str(model), "image": str(picture), "prompt": "oil painting",
              "steps": 4, "strength": 0.5, "seed": 3, "sampler": "ddim", "width": 64, "height": 48}
    return parse_recipe({**fields, **changes})


def test_strength_zero_returns_the_input_unchanged(tiny_model, store, picture):
    [result] = run_recipe(recipe_for(tiny_model("sd1"), picture, strength=0.0), store)
    assert np.array_equal(result.pixels, load_image(picture))


@pytest.mark.parametrize("flavour", ["sd1", "sdxl", "sd1_inpaint", "sdxl_inpaint"])
def test_whole_picture_changes_and_keeps_its_size(tiny_model, store, picture, flavour):
    [result] = run_recipe(recipe_for(tiny_model(flavour), picture), store)
    original = load_image(picture)
    assert result.pixels.shape == original.shape
    assert not np.array_equal(result.pixels, original)


@pytest.mark.parametrize("area, flavour", [("whole", "sd1"), ("masked", "sd1"), ("whole", "sd1_inpaint")])
def test_masked_sdedit_leaves_outside_pixels_bit_identical(tiny_model, store, picture, tmp_path, area, flavour):
    """An inpainting checkpoint runs SDEdit in its own pipeline, given the mask (test_whole_picture…: all of it)."""
    mask = write_mask(tmp_path / "m.png", 75, 58, (30, 20, 60, 50))
    recipe = recipe_for(tiny_model(flavour), picture, mask=str(mask), inpaint_area=area, strength=0.9)
    [result] = run_recipe(recipe, store)
    original = load_image(picture)
    outside = np.ones((58, 75), bool)
    outside[20:50, 30:60] = False
    assert np.array_equal(result.pixels[outside], original[outside])
    assert not np.array_equal(result.pixels[~outside], original[~outside])


def test_more_strength_moves_further_from_the_picture(tiny_model, store, picture):
    original = load_image(picture).astype(float)
    distance = {}
    for strength in (0.25, 1.0):
        [result] = run_recipe(recipe_for(tiny_model("sd1"), picture, strength=strength, steps=8), store)
        distance[strength] = np.abs(result.pixels - original).mean()
    assert distance[0.25] < distance[1.0]


def test_strength_below_one_step_is_a_clear_error(tiny_model, store, picture):
    with pytest.raises(StudioError, match="less than one step"):
        run_recipe(recipe_for(tiny_model("sd1"), picture, strength=0.1, steps=5), store)
