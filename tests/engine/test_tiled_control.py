"""ControlNets in tiled denoising (SD upscale, a hires fix's second pass): each UNet tile is steered by the
ControlNet run on that same tile, given that tile's part of every control map; the loaded ControlNet stays as it
was."""

import numpy as np
import pytest
import torch
from diffusers import ControlNetModel
from PIL import Image

from studio.core.errors import StudioError
from studio.core.recipe import parse_recipe
from studio.engine.controlnet import prepare_controls
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.engine.preprocessors import control_map
from studio.engine.tiled_control import DeferredControl, deferring
from tests.fixtures.tiny_controlnet import build_controlnet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def picture(width=60, height=44):
    y, x = np.mgrid[0:height, 0:width]
    squares = ((x // 12 + y // 12) % 2 * 200).astype(np.uint8)
    return np.stack([squares, x * 4 % 256, (x + y) * 2 % 256], axis=2).astype(np.uint8)


def run(store, tiny_model, units, source=None, **changes):
    fields = {"task": "upscale", "model": str(tiny_model("sd1")), "image": "p.png", "prompt": "a sharp photo",
              "steps": 4, "seed": 3, "sampler": "euler", "strength": 0.5, "upscale_factor": 2, "controlnets": units}
    recipe = parse_recipe({**fields, **changes})
    [result] = run_recipe(recipe, store, inputs=inputs_from_arrays(picture() if source is None else source, None))
    return result.pixels


def canny(tiny_model, **changes):
    return {"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny", **changes}


class Calls:
    """The spatial sizes each network is called with, in order."""

    def __init__(self, module, argument):
        self.sizes = []

        def record(module, args, kwargs):
            value = kwargs[argument] if argument in kwargs else args[0]
            self.sizes.append(tuple(value.shape[-2:]))

        self.hook = module.register_forward_pre_hook(record, with_kwargs=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.hook.remove()


def test_a_controlnet_steers_an_sd_upscale(tiny_model, store):
    steered = run(store, tiny_model, [canny(tiny_model)])
    assert steered.shape == (88, 120, 3)
    assert not np.array_equal(steered, run(store, tiny_model, [canny(tiny_model, scale=0.0)]))
    assert np.array_equal(run(store, tiny_model, [canny(tiny_model)]), steered), "a seed gives the same picture"


@pytest.mark.parametrize("flavour", ["sdxl", "sd1_inpaint"])
def test_sdxl_and_inpainting_checkpoints_take_controlnets_in_an_upscale_too(tiny_model, store, flavour):
    family = "sdxl" if flavour == "sdxl" else "sd1"
    unit = canny(tiny_model, model=str(tiny_model(f"controlnet_{family}")))
    steered = run(store, tiny_model, [unit], model=str(tiny_model(flavour)))
    assert steered.shape == (88, 120, 3)
    assert not np.array_equal(steered, run(store, tiny_model, [{**unit, "scale": 0.0}], model=str(tiny_model(flavour))))


def test_two_controlnets_steer_an_upscale_together(tiny_model, store):
    units = [canny(tiny_model), canny(tiny_model, model=str(tiny_model("controlnet_sd1", "diffusers")),
                                      preprocessor="none", scale=0.5)]
    both = run(store, tiny_model, units)
    assert both.shape == (88, 120, 3)
    assert not np.array_equal(both, run(store, tiny_model, units[:1]))


def test_a_controlnet_at_scale_0_upscales_as_without_one(tiny_model, store):
    difference = (run(store, tiny_model, [canny(tiny_model, scale=0.0)]).astype(int)
                  - run(store, tiny_model, []).astype(int))
    assert np.abs(difference).max() <= 1


def test_each_unet_tile_has_its_own_controlnet_call_on_that_tile(tiny_model, store):
    model = store.get(str(tiny_model("sd1")))
    native = model.native_size // 8
    side = native * 8 * 3 // 4  # doubled: 1.5 native sides wide, so two tiles across
    with Calls(model.components["unet"], "sample") as unet, \
            Calls(store.controlnet(tiny_model("controlnet_sd1")), "controlnet_cond") as maps, \
            Calls(store.controlnet(tiny_model("controlnet_sd1")), "sample") as latents:
        run(store, tiny_model, [canny(tiny_model)], picture(side, side // 2))
    assert len(unet.sizes) == len(latents.sizes) >= 2 * 2  # two tiles a step
    assert latents.sizes == unet.sizes and max(max(size) for size in unet.sizes) == native
    assert maps.sizes == [(8 * h, 8 * w) for h, w in latents.sizes], "each tile's part of the map, in pixels"


def test_a_tile_gets_its_own_part_of_every_map():
    received = {}

    def controlnet(**arguments):
        received.update(arguments)
        return "down", "mid"

    latent = torch.randn(2, 4, 10, 12)
    maps = [torch.randn(2, 3, 80, 96), torch.randn(2, 3, 80, 96)]
    deferred = DeferredControl(controlnet, {"sample": latent, "controlnet_cond": maps, "conditioning_scale": [1, 0.5]}, 8)
    assert deferred.at((slice(2, 6), slice(4, 10))) == ("down", "mid")
    assert torch.equal(received["sample"], latent[..., 2:6, 4:10])
    assert all(torch.equal(got, m[..., 16:48, 32:80]) for got, m in zip(received["controlnet_cond"], maps))
    assert received["conditioning_scale"] == [1, 0.5] and received["return_dict"] is False


def test_the_pipelines_stand_in_defers_and_the_loaded_controlnet_is_unchanged():
    controlnet = build_controlnet("sd1")
    stand_in = deferring(controlnet, 8)
    assert isinstance(stand_in, ControlNetModel), "the pipeline's type checks pass"
    assert stand_in.conv_in.weight is controlnet.conv_in.weight and stand_in.config is controlnet.config
    latent, hint = torch.randn(1, 4, 8, 8), torch.rand(1, 3, 64, 64)
    text = torch.randn(1, 77, controlnet.config.cross_attention_dim)
    deferred, mid = stand_in(latent, 10, encoder_hidden_states=text, controlnet_cond=hint, return_dict=False)
    assert isinstance(deferred, DeferredControl) and mid is None and deferred.controlnet is controlnet
    assert "forward" not in vars(controlnet)
    calls = []
    controlnet.register_forward_pre_hook(lambda *args: calls.append(1))
    stand_in(latent, 10, encoder_hidden_states=text, controlnet_cond=hint)
    assert not calls, "the stand-in runs no hook of the ControlNet's: it computes nothing"
    with torch.no_grad():
        down, mid = controlnet(latent, 10, encoder_hidden_states=text, controlnet_cond=hint, return_dict=False)
        down_tiled, mid_tiled = deferred.at((slice(0, 8), slice(0, 8)))
    assert torch.equal(mid, mid_tiled) and all(torch.equal(a, b) for a, b in zip(down, down_tiled))


def test_a_controlnet_that_pools_its_conditions_is_refused():
    controlnet = build_controlnet("sd1")
    controlnet.register_to_config(global_pool_conditions=True)
    with pytest.raises(StudioError, match="content shuffle"):
        deferring(controlnet, 8)


def test_maps_at_another_size_are_made_from_the_enlarged_source(tiny_model):
    source = picture()
    recipe = parse_recipe({"task": "upscale", "model": "m.safetensors", "image": "p.png",
                           "controlnets": [canny(tiny_model)]})
    controls = prepare_controls(recipe, source, load=lambda path: None)
    assert controls.at_size(60, 44) is controls
    enlarged = controls.at_size(120, 88)
    resized = np.asarray(Image.fromarray(source).resize((120, 88), Image.Resampling.BILINEAR))
    assert np.array_equal(enlarged.maps[0], control_map(resized, "canny", {}))
    assert controls.maps[0].shape == (44, 60, 3), "the first pass keeps its own maps"


def test_a_hires_fix_second_pass_is_steered_in_tiles(tiny_model, store):
    model = store.get(str(tiny_model("sd1")))
    native = model.native_size // 8
    recipe = parse_recipe({"task": "controlnet", "model": str(tiny_model("sd1")), "image": "p.png", "prompt": "a house",
                           "steps": 4, "seed": 2, "sampler": "euler", "controlnets": [canny(tiny_model)],
                           "hires": {"factor": 2, "strength": 0.5}})
    side = native * 8 * 3 // 4
    with Calls(store.controlnet(tiny_model("controlnet_sd1")), "controlnet_cond") as maps:
        [result] = run_recipe(recipe, store, inputs=inputs_from_arrays(picture(side, side // 2), None))
    assert result.pixels.shape == (side, 2 * side, 3)
    first, second = maps.sizes[:4], maps.sizes[4:]
    assert len(set(first)) == 1, "the first pass: the whole map at its processing size"
    assert len(second) == 2 * 2 and max(max(size) for size in second) == 8 * native, "then tiles of the enlarged map"


def test_the_x4_upscaler_refuses_controlnets(tiny_model, store):
    with pytest.raises(StudioError, match="the ×4 upscaler .* cannot use them"):
        run(store, tiny_model, [canny(tiny_model)], model=str(tiny_model("upscaler")), upscale_factor=4)
