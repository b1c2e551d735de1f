"""Inpainting end to end with tiny real models, in every mask mode."""

import numpy as np
import pytest

from studio.core.cancel import CancelToken
from studio.core.errors import JobCancelled, StudioError
from studio.core.images import load_image
from studio.core.masks import refine
from studio.core.recipe import parse_recipe
from studio.engine.jobs import run_recipe
from tests.fixtures.pictures import box_mask, write_mask, write_picture, write_picture_and_mask

WIDTH, HEIGHT = 77, 53  # deliberately not multiples of 8
MASK_BOX = (20, 10, 45, 35)


@pytest.fixture
def inputs(tmp_path):
    return write_picture_and_mask(tmp_path, WIDTH, HEIGHT, MASK_BOX)


def recipe_for(model, inputs, **changes):
    picture, mask = inputs
    fields = {"task": "inpaint", "model": str(model), "image": str(picture), "mask": str(mask),
              "prompt": "a red door", "steps": 3, "seed": 1, "sampler": "euler", "width": 64, "height": 64}
    return parse_recipe({**fields, **changes})


def assert_untouched_outside(result, picture_path, mask):
    picture = load_image(picture_path)
    assert result.shape == picture.shape
    assert np.array_equal(result[mask == 0], picture[mask == 0])
    assert not np.array_equal(result[mask == 255], picture[mask == 255])


@pytest.mark.parametrize("flavour", ["sd1", "sd1_inpaint", "sdxl", "sdxl_inpaint"])
@pytest.mark.parametrize("area", ["whole", "masked"])
def test_only_the_masked_pixels_change(tiny_model, store, inputs, flavour, area):
    recipe = recipe_for(tiny_model(flavour), inputs, inpaint_area=area, mask_padding=6)
    [result] = run_recipe(recipe, store)
    assert_untouched_outside(result.pixels, inputs[0], box_mask(WIDTH, HEIGHT, MASK_BOX))


def test_grown_feathered_and_grey_masks_keep_every_zero_pixel(tiny_model, store, tmp_path):
    picture = write_picture(tmp_path / "p.png", WIDTH, HEIGHT)
    mask_path = write_mask(tmp_path / "m.png", WIDTH, HEIGHT, MASK_BOX, value=140)
    recipe = recipe_for(tiny_model("sd1"), (picture, mask_path), mask_grow=3, mask_feather=2.5, inpaint_area="masked")
    [result] = run_recipe(recipe, store)
    grey = np.zeros((HEIGHT, WIDTH), np.uint8)
    grey[10:35, 20:45] = 140
    effective = refine(grey, 3, 2.5)
    original = load_image(picture)
    assert np.array_equal(result.pixels[effective == 0], original[effective == 0])
    assert (effective > 0).sum() > (grey > 0).sum()  # the grow really reached further


def test_default_processing_size_follows_the_model(tiny_model, store, inputs):
    recipe = recipe_for(tiny_model("sd1"), inputs, width=None, height=None, steps=2)
    [result] = run_recipe(recipe, store)
    assert result.pixels.shape == (HEIGHT, WIDTH, 3)


def test_same_recipe_same_pixels_other_seed_other_pixels(tiny_model, store, inputs):
    recipe = recipe_for(tiny_model("sd1"), inputs, sampler="euler_a")
    first = run_recipe(recipe, store)[0].pixels
    again = run_recipe(recipe, store)[0].pixels
    other = run_recipe(recipe.replace(seed=2), store)[0].pixels
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_variations_use_consecutive_seeds_and_match_single_runs(tiny_model, store, inputs):
    recipe = recipe_for(tiny_model("sd1"), inputs, variations=2, seed=5)
    results = run_recipe(recipe, store)
    assert [r.metadata.recipe.seed for r in results] == [5, 6]
    alone = run_recipe(recipe.replace(seed=6, variations=1), store)[0]
    assert np.array_equal(results[1].pixels, alone.pixels)


def test_progress_every_step_with_a_preview(tiny_model, store, inputs):
    seen = []
    run_recipe(recipe_for(tiny_model("sd1"), inputs, steps=4), store, on_progress=seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4]
    assert all(p.total == 4 and p.preview is not None and p.preview.dtype == np.uint8 for p in seen)
    assert seen[-1].fraction == 1.0


def test_cancel_stops_within_one_step(tiny_model, store, inputs):
    token = CancelToken()
    seen = []

    def on_progress(progress):
        seen.append(progress.step)
        if progress.step == 2:
            token.cancel()

    with pytest.raises(JobCancelled):
        run_recipe(recipe_for(tiny_model("sd1"), inputs, steps=10), store, on_progress=on_progress, cancel=token)
    assert seen == [1, 2]


@pytest.mark.parametrize("sampler", ["ddim", "ddpm", "euler", "euler_a", "heun", "lms", "dpmpp_2m",
                                     "dpmpp_2m_karras", "dpmpp_2m_sde", "unipc", "lcm"])
def test_every_builtin_sampler_runs(tiny_model, store, inputs, sampler):
    [result] = run_recipe(recipe_for(tiny_model("sd1_inpaint"), inputs, sampler=sampler, steps=2), store)
    assert result.metadata.run["sampler_label"]


def test_bad_inputs_are_clear_errors(tiny_model, store, inputs, tmp_path):
    with pytest.raises(StudioError, match="unknown sampler 'warp_drive'"):
        run_recipe(recipe_for(tiny_model("sd1"), inputs, sampler="warp_drive"), store)
    empty = write_mask(tmp_path / "empty.png", WIDTH, HEIGHT, (0, 0, 0, 0))
    with pytest.raises(StudioError, match="mask is empty"):
        run_recipe(recipe_for(tiny_model("sd1"), (inputs[0], empty)), store)
    with pytest.raises(StudioError, match="not found"):
        run_recipe(recipe_for(tiny_model("sd1"), (tmp_path / "gone.png", inputs[1])), store)


def test_a_mask_of_another_size_is_resized_with_a_notice(tiny_model, store, inputs, tmp_path):
    small = write_mask(tmp_path / "small.png", 30, 20, (5, 5, 15, 15))
    [result] = run_recipe(recipe_for(tiny_model("sd1"), (inputs[0], small)), store)
    assert "resized" in result.notices[0]
    assert result.pixels.shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("width, height", [(1, 1), (3, 900), (900, 2)])
def test_tiny_and_extreme_pictures_work(tiny_model, store, tmp_path, width, height):
    picture = write_picture(tmp_path / "p.png", width, height)
    mask = write_mask(tmp_path / "m.png", width, height, (0, 0, max(1, width // 2), max(1, height // 2)))
    recipe = recipe_for(tiny_model("sd1"), (picture, mask), width=None, height=None, steps=2)
    [result] = run_recipe(recipe, store)
    assert result.pixels.shape == (height, width, 3)
