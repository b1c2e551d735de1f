"""Upscaling with a Stable Diffusion checkpoint (A1111's "SD upscale"): Lanczos by the recipe's factor, then
SDEdit on overlapping latent tiles of the model's native size blended at every step, the VAE in tiles."""

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import StudioError
from studio.core.recipe import parse_recipe
from studio.engine import sd_upscale as sd_upscale_module
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.core.images import upscaled_size
from studio.engine.tiling import TiledUNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def picture(width=60, height=44):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 2 % 256], axis=2).astype(np.uint8)


def upscale(store, model, source=None, **changes):
    fields = {"task": "upscale", "model": str(model), "image": "p.png", "prompt": "a sharp photo", "steps": 4,
              "seed": 3, "sampler": "euler", "strength": 0.5, "upscale_factor": 2}
    recipe = parse_recipe({**fields, **changes})
    [result] = run_recipe(recipe, store, inputs=inputs_from_arrays(picture() if source is None else source, None))
    return result


def test_sizes_follow_the_factor_in_multiples_of_8():
    assert upscaled_size(60, 44, 2) == (120, 88)
    assert upscaled_size(60, 44, 1.5) == (88, 64)
    assert upscaled_size(3, 3, 1) == (8, 8)


def test_strength_0_is_exactly_lanczos_and_more_redraws_the_detail(tiny_model, store):
    model = tiny_model("sd1")
    lanczos = np.asarray(Image.fromarray(picture()).resize((120, 88), Image.Resampling.LANCZOS))
    assert np.array_equal(upscale(store, model, strength=0.0).pixels, lanczos)
    redrawn = upscale(store, model)
    assert redrawn.pixels.shape == (88, 120, 3) and not np.array_equal(redrawn.pixels, lanczos)
    assert np.array_equal(upscale(store, model).pixels, redrawn.pixels), "a seed gives the same picture"
    assert redrawn.metadata.recipe.upscale_factor == 2


def test_the_unet_never_sees_more_than_a_tile_of_the_models_native_size(tiny_model, store, monkeypatch):
    seen = []

    class Spy(TiledUNet):
        def forward(self, sample, *args, **kwargs):
            result = super().forward(sample, *args, **kwargs)
            seen.append((tuple(sample.shape[-2:]), self.largest_input))
            return result

    monkeypatch.setattr(sd_upscale_module, "TiledUNet", Spy)
    native = store.get(str(tiny_model("sd1"))).native_size // 8  # latent side
    side = native * 8 * 3 // 4  # a picture whose double is 1.5 native sides: tiles overlap
    result = upscale(store, tiny_model("sd1"), picture(side, side // 2), steps=2)
    assert result.pixels.shape == (side, 2 * side, 3)
    assert seen and all(max(whole) > native for whole, _ in seen)
    assert all(tile == (whole[0], native) for whole, tile in seen)  # its height fits, its width takes 2 tiles


@pytest.mark.parametrize("flavour", ["sdxl", "sd1_inpaint"])
def test_sdxl_and_inpainting_checkpoints_upscale_too(tiny_model, store, flavour):
    assert upscale(store, tiny_model(flavour), upscale_factor=1.5).pixels.shape == (64, 88, 3)


def test_a_starter_photo_model_is_no_upscaler(tiny_model, store):
    with pytest.raises(StudioError, match="needs an upscaler model or a Stable Diffusion checkpoint"):
        upscale(store, tiny_model("starter_photo"))


def test_the_checkpoints_other_tasks_are_untouched_by_an_upscale(tiny_model, store):
    """The VAE is tiled for the upscale only: a later SDEdit gives the picture it gave before (as `studio run`
    reproduces it in a fresh process)."""
    model = tiny_model("sd1")
    edit = parse_recipe({"task": "sdedit", "model": str(model), "image": "p.png", "steps": 3, "strength": 0.7,
                         "seed": 2, "sampler": "euler"})
    before = run_recipe(edit, store, inputs=inputs_from_arrays(picture(), None))[0].pixels
    upscale(store, model, steps=2)
    assert not store.get(str(model)).components["vae"].use_tiling
    after = run_recipe(edit, store, inputs=inputs_from_arrays(picture(), None))[0].pixels
    assert np.array_equal(after, before)
