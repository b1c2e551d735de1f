"""×4 diffusion super-resolution with a tiny real upscaler, untiled and tiled."""

import numpy as np
import pytest

from studio.core.cancel import CancelToken
from studio.core.errors import JobCancelled, StudioError
from studio.core.recipe import parse_recipe
from studio.engine.jobs import run_recipe
from studio.engine.tiling import TiledUNet, blend_weights, tile_starts
from tests.fixtures.pictures import write_picture

# Tiled and untiled runs of the same model may differ (attention sees a tile, not the whole picture).
# Stated tolerance for the tiny random-weight upscaler, tile 40 / overlap 16 on a 72×48 latent:
MIN_PSNR_DB = 25.0
MAX_MEAN_ABS_DIFF = 10.0  # of 255


def recipe_for(model, picture, **changes):
    fields = {"task": "upscale", "model": str(model), "image": str(picture), "prompt": "sharp photo",
              "steps": 3, "seed": 4, "sampler": "ddim", "guidance": 7.0, "noise_level": 20}
    return parse_recipe({**fields, **changes})


@pytest.fixture
def picture(tmp_path):
    return write_picture(tmp_path / "small.png", 70, 45)  # not a multiple of 8


def test_output_is_four_times_the_input(tiny_model, store, picture):
    [result] = run_recipe(recipe_for(tiny_model("upscaler"), picture), store)
    assert result.pixels.shape == (180, 280, 3)


def test_tiled_and_untiled_agree_within_the_stated_tolerance(tiny_model, store, picture):
    [whole] = run_recipe(recipe_for(tiny_model("upscaler"), picture, tile_size=4096), store)
    [tiled] = run_recipe(recipe_for(tiny_model("upscaler"), picture, tile_size=40, tile_overlap=16), store)
    difference = whole.pixels.astype(float) - tiled.pixels.astype(float)
    psnr = 10 * np.log10(255**2 / (difference**2).mean())
    assert psnr >= MIN_PSNR_DB and np.abs(difference).mean() <= MAX_MEAN_ABS_DIFF


def test_memory_follows_the_tile_not_the_picture(tiny_model, store, tmp_path):
    """The UNet never sees more than a tile, and the VAE decodes in tiles, whatever the picture's size."""
    model = store.get(tiny_model("upscaler"))
    decoder_inputs = []
    hook = model.components["vae"].decoder.register_forward_pre_hook(lambda m, args: decoder_inputs.append(args[0].shape[-2:]))
    seen = []
    try:
        big = write_picture(tmp_path / "big.png", 96, 64)
        run_recipe(recipe_for(tiny_model("upscaler"), big, tile_size=32, tile_overlap=8, steps=1), store,
                   on_progress=seen.append)
    finally:
        hook.remove()
    assert max(max(shape) for shape in decoder_inputs) <= model.components["vae"].tile_latent_min_size
    assert len(decoder_inputs) > 1
    tiles = {p.tiles for p in seen}
    assert max(tiles) == 12  # 96×64 latent in 32-tiles with 8 overlap: 4 × 3
    assert [p.tile for p in seen if p.tiles == 12] == list(range(1, 12))
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_tiled_unet_never_sees_more_than_a_tile():
    import torch

    calls = []

    class Recorder(torch.nn.Module):
        config, dtype, device = None, torch.float32, torch.device("cpu")

        def forward(self, sample, timestep, return_dict=False, **kwargs):
            calls.append(tuple(sample.shape[-2:]))
            return (sample * 2,)

    wrapper = TiledUNet(Recorder(), tile=16, overlap=4)
    sample = torch.randn(2, 4, 40, 23)
    [out] = wrapper(sample, 1, return_dict=False)
    assert torch.allclose(out, sample * 2, atol=1e-6)  # a pointwise model is reproduced exactly by the blend
    assert max(max(c) for c in calls) <= 16


def test_tile_layout_and_weights():
    assert tile_starts(10, 16, 4) == [0]
    assert tile_starts(40, 16, 4) == [0, 12, 24]
    starts = tile_starts(100, 32, 8)
    assert starts[0] == 0 and starts[-1] == 68 and all(b - a <= 24 for a, b in zip(starts, starts[1:]))
    import torch

    weights = blend_weights(8, 8, 4, "cpu", torch.float32)
    assert weights.min() > 0 and weights[4, 4] == 1.0


def test_cancel_between_steps(tiny_model, store, picture):
    token = CancelToken()

    def on_progress(progress):
        token.cancel()

    with pytest.raises(JobCancelled):
        run_recipe(recipe_for(tiny_model("upscaler"), picture, steps=5), store, on_progress=on_progress, cancel=token)


def test_an_upscaler_is_refused_for_inpainting_and_a_controlnet_for_upscaling(tiny_model, store, picture, tmp_path):
    from tests.fixtures.pictures import write_mask

    mask = write_mask(tmp_path / "m.png", 70, 45, (0, 0, 10, 10))
    wrong = parse_recipe({"task": "inpaint", "model": str(tiny_model("upscaler")), "image": str(picture), "mask": str(mask)})
    with pytest.raises(StudioError, match="needs a Stable Diffusion base model, but upscaler is an upscaler model"):
        run_recipe(wrong, store)
    with pytest.raises(StudioError, match="controlnet_sd1.safetensors is a controlnet model, not a Stable Diffusion"):
        run_recipe(recipe_for(tiny_model("controlnet_sd1"), picture), store)


def test_the_x4_upscaler_refuses_loras_clip_skip_and_other_factors(tiny_model, store, picture, tmp_path):
    from tests.fixtures.tiny_loras import save_diffusers_lora

    model = tiny_model("upscaler")
    lora = save_diffusers_lora("sd1", tmp_path / "ink.safetensors")
    for changes, words in (({"loras": [{"path": str(lora)}]}, "LoRAs adapt .* the ×4 upscaler upscaler cannot use them"),
                           ({"clip_skip": 2}, "the ×4 upscaler upscaler has no clip skip"),
                           ({"upscale_factor": 2}, "upscaler upscales ×4 only")):
        with pytest.raises(StudioError, match=words):
            run_recipe(recipe_for(model, picture, **changes), store)
    assert run_recipe(recipe_for(model, picture, upscale_factor=4), store)[0].pixels.shape == (180, 280, 3)


def stock_upscale(model, picture_path, recipe):
    """The same job in diffusers' own pipeline: its UNet, its CFG, the recipe's scheduler."""
    import torch
    from PIL import Image
    from diffusers import StableDiffusionUpscalePipeline

    from studio.engine.samplers import make_scheduler

    pipe = StableDiffusionUpscalePipeline(**model.components, scheduler=make_scheduler(recipe.sampler, model.scheduler_config))
    pipe.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        images = pipe(prompt=recipe.prompt, image=Image.open(picture_path), num_inference_steps=recipe.steps,
                      guidance_scale=recipe.guidance, noise_level=recipe.noise_level, output_type="np",
                      generator=torch.Generator().manual_seed(recipe.seed)).images
    return (np.clip(images[0], 0, 1) * 255).round().astype(np.uint8)


def test_cfg_through_the_guidance_plugins_matches_the_stock_upscaler(tiny_model, store, tmp_path):
    picture = write_picture(tmp_path / "even.png", 32, 24)  # a multiple of 8: no padding, like the stock call
    recipe = recipe_for(tiny_model("upscaler"), picture, tile_size=4096)
    [ours] = run_recipe(recipe, store)
    stock = stock_upscale(store.get(tiny_model("upscaler")), picture, recipe)
    assert np.abs(ours.pixels.astype(int) - stock.astype(int)).max() <= 2  # float rounding of the guided path


@pytest.mark.parametrize("guidance_type, params", [("cfg_rescale", {"rescale": 0.7}),
                                                   ("interval", {"sigma_low": 900.0, "sigma_high": 1000.0})])
def test_guidance_plugins_steer_upscaling_too(tiny_model, store, picture, guidance_type, params):
    [plain] = run_recipe(recipe_for(tiny_model("upscaler"), picture), store)
    [guided] = run_recipe(recipe_for(tiny_model("upscaler"), picture, guidance_type=guidance_type,
                                     guidance_params=params), store)
    assert guided.metadata.recipe.guidance_type == guidance_type
    assert not np.array_equal(plain.pixels, guided.pixels)
