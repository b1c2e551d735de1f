"""Studio's starter models through the same job path as a user's checkpoint: listed, loaded by the model store,
run by run_recipe for inpaint, SDEdit and upscale, with the same promises (untouched pixels, progress, cancel)."""

import numpy as np
import pytest

from studio.core.cancel import CancelToken
from studio.core.errors import JobCancelled, StudioError
from studio.core.images import load_image
from studio.core.recipe import parse_recipe
from studio.engine.jobs import run_recipe
from tests.fixtures.pictures import box_mask, write_mask, write_picture, write_picture_and_mask

WIDTH, HEIGHT = 45, 37  # not multiples of the model's 2× grid nor of 8
MASK_BOX = (12, 8, 30, 25)


@pytest.fixture
def inputs(tmp_path):
    return write_picture_and_mask(tmp_path, WIDTH, HEIGHT, MASK_BOX)


def recipe_for(model, inputs, **changes):
    picture, mask = inputs
    fields = {"task": "inpaint", "model": str(model), "image": str(picture), "mask": str(mask), "steps": 3, "seed": 4,
              "mask_feather": 0}
    return parse_recipe({**fields, **changes})


def test_the_store_loads_a_starter_folder_as_a_model_of_its_own_kind(tiny_model, store):
    photo = store.get(tiny_model("starter_photo"))
    assert photo.info.starter and photo.info.kind == "pipeline" and photo.family == "starter"
    assert photo.starter.kind == "starter_unconditional"
    assert photo.native_size == 16  # the tiny-cpu preset's crop side
    sr = store.get(tiny_model("starter_sr"))
    assert sr.info.kind == "upscaler" and sr.starter.scale == 4


@pytest.mark.parametrize("area", ["whole", "masked"])
@pytest.mark.parametrize("strength", [1.0, 0.6])
def test_inpaint_changes_only_the_masked_pixels(tiny_model, store, inputs, area, strength):
    recipe = recipe_for(tiny_model("starter_photo"), inputs, inpaint_area=area, mask_padding=4, strength=strength)
    [result] = run_recipe(recipe, store)
    picture, mask = load_image(inputs[0]), box_mask(WIDTH, HEIGHT, MASK_BOX)
    assert result.pixels.shape == picture.shape
    assert np.array_equal(result.pixels[mask == 0], picture[mask == 0])
    assert not np.array_equal(result.pixels[mask == 255], picture[mask == 255])
    assert result.metadata.run["family"] == "starter"
    assert "starter" in result.metadata.run["sampler_label"]  # the recipe's sampler was not the one used


def test_inpaint_is_reproducible_from_its_recipe_and_seeds_differ(tiny_model, store, inputs):
    recipe = recipe_for(tiny_model("starter_photo"), inputs, variations=2)
    first, second = run_recipe(recipe, store)
    [again] = run_recipe(first.metadata.recipe, store)
    assert np.array_equal(first.pixels, again.pixels)
    assert not np.array_equal(first.pixels, second.pixels)


def test_inpaint_reports_every_step_with_a_preview_and_stops_on_cancel(tiny_model, store, inputs):
    seen, cancel = [], CancelToken()

    def on_progress(progress):
        seen.append(progress)
        if len(seen) == 2:
            cancel.cancel()

    with pytest.raises(JobCancelled):
        run_recipe(recipe_for(tiny_model("starter_photo"), inputs, steps=5), store, on_progress, cancel)
    assert [p.step for p in seen] == [1, 2]
    assert seen[0].total == 5 and seen[0].preview.dtype == np.uint8 and seen[0].preview.shape[2] == 3


def test_a_cancel_is_checked_before_every_unet_evaluation_not_only_between_steps(tiny_model, store, inputs):
    class CountingToken(CancelToken):
        checks = 0

        def raise_if_cancelled(self):
            self.checks += 1
            super().raise_if_cancelled()

    token = CountingToken()
    run_recipe(recipe_for(tiny_model("starter_photo"), inputs, steps=2), store, None, token)
    assert token.checks >= 2 * 4  # the model resamples 4 times a step: a check before each evaluation


def test_an_empty_mask_is_refused_with_a_clear_message(tiny_model, store, tmp_path):
    picture = write_picture(tmp_path / "p.png", WIDTH, HEIGHT)
    empty = write_mask(tmp_path / "m.png", WIDTH, HEIGHT, (0, 0, 0, 0))
    with pytest.raises(StudioError, match="mask is empty"):
        run_recipe(recipe_for(tiny_model("starter_photo"), (picture, empty)), store)


def test_sdedit_of_the_whole_picture_keeps_its_size_and_strength_zero_keeps_it_all(tiny_model, store, inputs):
    model = tiny_model("starter_photo")
    [edited] = run_recipe(recipe_for(model, inputs, task="sdedit", mask=None, strength=0.5), store)
    picture = load_image(inputs[0])
    assert edited.pixels.shape == picture.shape and not np.array_equal(edited.pixels, picture)
    [kept] = run_recipe(recipe_for(model, inputs, task="sdedit", mask=None, strength=0.0), store)
    assert np.array_equal(kept.pixels, picture)


def test_sdedit_with_a_mask_keeps_every_pixel_outside_it(tiny_model, store, inputs):
    [edited] = run_recipe(recipe_for(tiny_model("starter_photo"), inputs, task="sdedit", strength=0.7), store)
    picture, mask = load_image(inputs[0]), box_mask(WIDTH, HEIGHT, MASK_BOX)
    assert np.array_equal(edited.pixels[mask == 0], picture[mask == 0])


@pytest.mark.parametrize("tile_size", [4096, 16])  # one tile; several tiles blended every step
def test_upscale_returns_four_times_the_picture(tiny_model, store, inputs, tile_size):
    recipe = recipe_for(tiny_model("starter_sr"), inputs, task="upscale", mask=None, tile_size=tile_size, tile_overlap=4)
    steps = []
    [result] = run_recipe(recipe, store, on_progress=steps.append)
    assert result.pixels.shape == (HEIGHT * 4, WIDTH * 4, 3)
    # the SR model starts 0.7 of the way in (its sampling.upscale.strength): 2 of the recipe's 3 steps
    assert [(p.step, p.total) for p in steps] == [(1, 2), (2, 2)]
    assert max(steps[-1].preview.shape[:2]) <= 256


def test_tasks_the_starter_models_cannot_do_are_refused_by_name(tiny_model, store, inputs):
    photo = tiny_model("starter_photo")
    unit = {"model": str(tiny_model("controlnet_sd1")), "preprocessor": "none"}
    with pytest.raises(StudioError, match="needs a Stable Diffusion model"):
        run_recipe(recipe_for(photo, inputs, task="controlnet", mask=None, controlnets=(unit,)), store)
    with pytest.raises(StudioError, match="cannot use them"):
        run_recipe(recipe_for(photo, inputs, controlnets=(unit,)), store)
    with pytest.raises(StudioError, match="needs an upscaler model or a Stable Diffusion checkpoint, but .* starter photo model"):
        run_recipe(recipe_for(photo, inputs, task="upscale", mask=None), store)
    with pytest.raises(StudioError, match="needs a Stable Diffusion base model, but .* starter upscaler"):
        run_recipe(recipe_for(tiny_model("starter_sr"), inputs), store)


def test_a_starter_with_damaged_weights_is_a_clear_error(tiny_model, store, inputs, tmp_path):
    import shutil

    damaged = shutil.copytree(tiny_model("starter_photo"), tmp_path / "damaged")
    weights = damaged / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(StudioError, match="cannot load the starter model damaged"):
        run_recipe(recipe_for(damaged, inputs), store)
