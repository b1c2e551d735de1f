"""Seamless tiling: inside the job every convolution pads circularly, so the networks treat the picture as a
torus (shifting the input around its edges shifts the output the same way: no edge exists); afterwards the
shared model pads as before."""

import numpy as np
import pytest
import torch

from studio.core.errors import StudioError
from studio.core.recipe import parse_recipe
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.engine.seamless import seamless

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def unet_output(unet, latents, text):
    return unet(latents, torch.tensor(500), encoder_hidden_states=text).sample


@torch.no_grad()
def test_the_unet_sees_a_torus_inside_the_block_only(tiny_model, store):
    model = store.get(str(tiny_model("sd1")))
    unet = model.components["unet"]
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn((1, 4, 16, 24), generator=generator)
    text = torch.randn((1, 77, unet.config.cross_attention_dim), generator=generator)
    shift = 8  # a multiple of every downsampling: the shifted grid lines up with the original's
    with seamless([unet]):
        out = unet_output(unet, latents, text)
        shifted = unet_output(unet, torch.roll(latents, (shift, shift), dims=(2, 3)), text)
    assert torch.allclose(shifted, torch.roll(out, (shift, shift), dims=(2, 3)), atol=1e-4)
    plain = unet_output(unet, torch.roll(latents, (shift, shift), dims=(2, 3)), text)
    assert not torch.allclose(plain, torch.roll(unet_output(unet, latents, text), (shift, shift), dims=(2, 3)),
                              atol=1e-3), "zero padding: the edges show"
    assert {layer.padding_mode for layer in unet.modules() if isinstance(layer, torch.nn.Conv2d)} == {"zeros"}


@torch.no_grad()
def test_the_vae_decodes_around_the_edges_too(tiny_model, store):
    vae = store.get(str(tiny_model("sd1"))).components["vae"]
    latents = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(1))
    with seamless([vae]):
        out = vae.decode(latents).sample
        shifted = vae.decode(torch.roll(latents, 3, dims=3)).sample
    factor = out.shape[-1] // latents.shape[-1]
    assert torch.allclose(shifted, torch.roll(out, 3 * factor, dims=3), atol=1e-4)


def picture():
    y, x = np.mgrid[0:48, 0:64]
    return np.stack([x * 4 % 256, y * 5 % 256, (x * y) % 256], axis=2).astype(np.uint8)


def test_a_tiling_job_runs_seamless_and_records_it(tiny_model, store):
    fields = {"task": "sdedit", "model": str(tiny_model("sd1")), "image": "p.png", "steps": 3, "strength": 0.8,
              "sampler": "euler", "seed": 1}
    seen = []
    unet = store.get(fields["model"]).components["unet"]
    hook = unet.register_forward_pre_hook(lambda module, args: seen.append(module.conv_in.padding_mode))
    try:
        [tiled] = run_recipe(parse_recipe({**fields, "tiling": True}), store, inputs=inputs_from_arrays(picture(), None))
        [plain] = run_recipe(parse_recipe(fields), store, inputs=inputs_from_arrays(picture(), None))
    finally:
        hook.remove()
    steps = int(3 * 0.8)
    assert seen == ["circular"] * steps + ["zeros"] * steps
    assert tiled.metadata.recipe.tiling and not np.array_equal(tiled.pixels, plain.pixels)


def test_starter_models_refuse_it_by_name(tiny_model, store):
    recipe = parse_recipe({"task": "sdedit", "model": str(tiny_model("starter_photo")), "image": "p.png",
                           "strength": 0.5, "tiling": True})
    with pytest.raises(StudioError, match="seamless tiling is for Stable Diffusion models"):
        run_recipe(recipe, store, inputs=inputs_from_arrays(picture(), None))


def test_a_controlnet_job_tiles_its_controlnet_too(tiny_model, store):
    unit = {"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny"}
    recipe = parse_recipe({"task": "controlnet", "model": str(tiny_model("sd1")), "image": "p.png", "steps": 2,
                           "sampler": "euler", "width": 64, "height": 48, "controlnets": [unit], "tiling": True})
    store.get(recipe.model)
    controlnet = store.controlnet(unit["model"])
    seen = []
    hook = controlnet.register_forward_pre_hook(lambda module, args: seen.append(module.conv_in.padding_mode))
    try:
        [result] = run_recipe(recipe, store, inputs=inputs_from_arrays(picture(), None))
    finally:
        hook.remove()
    assert seen == ["circular", "circular"] and result.pixels.shape == (48, 64, 3)
    assert controlnet.conv_in.padding_mode == "zeros"
