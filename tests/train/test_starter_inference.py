"""The saved tiny models load back and run inpainting, SDEdit and upscaling end to end; the sampling loops are
exact when given the ideal noise predictor."""

from __future__ import annotations

import json
import struct
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from studio.train import starter_inference as si
from studio.train.ops import bicubic_up, to_unit
from studio.train.starter_model import STARTER_FILE, StarterModel, load_starter, read_starter_info


@pytest.fixture(scope="module")
def photo_model(tiny_runs):
    return load_starter(tiny_runs["unconditional"].model_dir)


@pytest.fixture(scope="module")
def sr_model(tiny_runs):
    return load_starter(tiny_runs["sr"].model_dir)


@pytest.fixture(scope="module")
def picture():
    from skimage import data

    return np.asarray(Image.fromarray(data.chelsea()).resize((44, 30)))  # not a multiple of the UNet's 2


def _mask(shape, box=(5, 20, 10, 30)):
    mask = np.zeros(shape, np.uint8)
    mask[box[0]:box[1], box[2]:box[3]] = 255
    return mask


def test_saved_folder_is_fp16_safetensors_with_a_starter_description(tiny_runs):
    folder = tiny_runs["unconditional"].model_dir
    info = read_starter_info(folder)
    assert info["kind"] == "starter_unconditional" and info["prompts"] == "ignored"
    assert info["crop_size"] == 16 and info["multiple"] == 2 and info["data"]["train_photos"] == 2
    assert set(info["licence"]["data"]) <= {"CC0-1.0", "public-domain"}
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    header = json.loads(weights.read_bytes()[8:8 + struct.unpack("<Q", weights.read_bytes()[:8])[0]])
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"F16"}
    assert (folder / "scheduler" / "scheduler_config.json").is_file()
    assert read_starter_info(folder.parent) is None
    sr = read_starter_info(tiny_runs["sr"].model_dir)
    assert sr["kind"] == "starter_sr" and sr["scale"] == 4 and sr["residual_scale"] == 4.0


def test_a_folder_of_another_format_is_refused(tmp_path):
    (tmp_path / STARTER_FILE).write_text(json.dumps({"format": 99, "kind": "starter_sr"}))
    with pytest.raises(ValueError, match="format"):
        read_starter_info(tmp_path)


def test_inpaint_fills_the_mask_and_keeps_everything_else(photo_model, picture):
    mask = _mask(picture.shape[:2])
    out = si.inpaint(photo_model, picture, mask, steps=3, seed=1)
    assert out.shape == picture.shape and out.dtype == np.uint8
    assert np.array_equal(out[mask == 0], picture[mask == 0])
    assert not np.array_equal(out[mask > 0], picture[mask > 0])
    assert np.array_equal(out, si.inpaint(photo_model, picture, mask, steps=3, seed=1))
    assert not np.array_equal(out, si.inpaint(photo_model, picture, mask, steps=3, seed=2))
    assert np.array_equal(si.inpaint(photo_model, picture, np.zeros_like(mask), steps=3), picture)
    averaged = si.inpaint(photo_model, picture, mask, steps=3, seed=1, samples=2, resample=2)
    assert np.array_equal(averaged[mask == 0], picture[mask == 0])


def test_sdedit_changes_the_picture_by_strength_and_respects_a_mask(photo_model, picture):
    assert np.array_equal(si.sdedit(photo_model, picture, strength=0.0, steps=4), picture)
    light = si.sdedit(photo_model, picture, strength=0.25, steps=4, seed=3)
    assert light.shape == picture.shape and not np.array_equal(light, picture)
    mask = _mask(picture.shape[:2])
    masked = si.sdedit(photo_model, picture, strength=0.5, steps=4, seed=3, mask=mask)
    assert np.array_equal(masked[mask == 0], picture[mask == 0])
    with pytest.raises(ValueError, match="strength"):
        si.sdedit(photo_model, picture, strength=1.5)


def test_upscale_multiplies_the_size_and_tiles_any_size(sr_model, picture):
    out = si.upscale(sr_model, picture, steps=3, seed=0)
    assert out.shape == (picture.shape[0] * 4, picture.shape[1] * 4, 3) and out.dtype == np.uint8
    tiled = si.upscale(sr_model, picture, steps=3, seed=0, tile=64, overlap=16)
    assert tiled.shape == out.shape
    assert np.array_equal(out, si.upscale(sr_model, picture, steps=3, seed=0))
    averaged = si.upscale(sr_model, picture, steps=3, seed=0, samples=3, tile=64, overlap=16)
    assert averaged.shape == out.shape and not np.array_equal(averaged, tiled)


def test_callbacks_see_every_step_and_can_cancel(photo_model, picture):
    seen = []
    si.sdedit(photo_model, picture, strength=1.0, steps=4, callback=lambda info: seen.append(info))
    assert [s["i"] for s in seen] == [0, 1, 2, 3] and all(s["total"] == 4 for s in seen)
    assert seen[0]["denoised"].shape[-3:] == (3, 30, 44)

    class Cancelled(Exception):
        pass

    def cancel(info):
        if info["i"] == 1:
            raise Cancelled

    with pytest.raises(Cancelled):
        si.inpaint(photo_model, picture, _mask(picture.shape[:2]), steps=5, callback=cancel)


def test_an_interrupt_runs_before_every_unet_evaluation_and_stops_within_a_step(photo_model, picture):
    calls, steps = [], []
    si.inpaint(photo_model, picture, _mask(picture.shape[:2]), steps=3, resample=4, samples=1,
               interrupt=lambda: calls.append(len(steps)), callback=steps.append)
    assert calls == [0] * 4 + [1] * 4 + [2] * 4  # four evaluations (resampling) in each of the three steps

    class Cancelled(Exception):
        pass

    def cancel_on_second_call(count=iter(range(99))):
        if next(count) == 1:
            raise Cancelled

    steps.clear()
    with pytest.raises(Cancelled):
        si.inpaint(photo_model, picture, _mask(picture.shape[:2]), steps=3, resample=4, samples=1,
                   interrupt=cancel_on_second_call, callback=steps.append)
    assert steps == []  # stopped inside the first step


def test_tasks_check_the_model_kind(photo_model, sr_model, picture):
    with pytest.raises(ValueError, match="starter_sr"):
        si.upscale(photo_model, picture)
    with pytest.raises(ValueError, match="starter_unconditional"):
        si.inpaint(sr_model, picture, _mask(picture.shape[:2]))


class IdealDenoiser(torch.nn.Module):
    """ε-prediction that knows x0: ε = (x_t - √ᾱ_t x0) / √(1 - ᾱ_t). Sampling with it must return x0."""

    def __init__(self, x0, alphas_cumprod):
        super().__init__()
        self.x0, self.alphas_cumprod = x0, alphas_cumprod
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the model a device and dtype

    def forward(self, sample, t):
        a = self.alphas_cumprod[int(t)]
        return SimpleNamespace(sample=(sample[:, :3] - a.sqrt() * self.x0) / (1 - a).sqrt())


def _ideal(model, x0):
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler.from_config(model.scheduler_config)
    return StarterModel(IdealDenoiser(x0, scheduler.alphas_cumprod), model.scheduler_config, model.info)


@pytest.mark.parametrize("eta,resample,consistency,spacing", [
    (0.0, 1, 0.0, "trailing"), (1.0, 1, 0.0, "trailing"), (1.0, 3, 0.0, "trailing"), (1.0, 2, 4.0, "leading")])
def test_inpaint_and_sdedit_with_the_ideal_denoiser_recover_the_picture(photo_model, eta, resample, consistency,
                                                                      spacing):
    from skimage import data

    truth = np.asarray(Image.fromarray(data.coffee()).resize((32, 24)))
    ideal = _ideal(photo_model, to_unit(truth))
    mask = _mask(truth.shape[:2], (4, 20, 6, 26))
    filled = si.inpaint(ideal, truth, mask, steps=6, eta=eta, resample=resample, consistency=consistency,
                        spacing=spacing)
    assert np.array_equal(filled, truth)
    assert np.array_equal(si.sdedit(ideal, truth, strength=0.8, steps=6, eta=eta), truth)


def test_the_consistency_pull_points_where_the_denoised_estimate_agrees_with_the_known_pixels(photo_model, picture):
    scheduler = si._scheduler(photo_model, 10)
    t = int(scheduler.timesteps[3])
    a = si._alpha(scheduler, t)
    known = to_unit(picture)[..., :24, :40]
    keep = torch.ones((1, 1, 24, 40))
    keep[..., 6:18, 10:30] = 0.0
    x = a ** 0.5 * known + (1 - a) ** 0.5 * torch.randn(known.shape, generator=torch.Generator().manual_seed(0))

    def misfit(x):
        eps = photo_model.unet(x, t).sample
        return float((keep * (known - (x - (1 - a) ** 0.5 * eps) / a ** 0.5)).norm())

    with torch.no_grad():
        eps, pull = si._predict_with_pull(photo_model, x, t, a, known, keep)
        assert torch.allclose(eps, photo_model.unet(x, t).sample)
        assert float(pull.norm()) == pytest.approx(1 / a ** 0.5, rel=0.5)  # about unit length, scaled by 1/√ᾱ
        assert misfit(x - 1e-2 * pull) < misfit(x) < misfit(x + 1e-2 * pull)


def test_the_models_own_sampling_sets_the_inpainting_sampler(photo_model, picture):
    mask = _mask(picture.shape[:2])
    plain = si.inpaint(photo_model, picture, mask, steps=4, seed=0, consistency=0.0, spacing="trailing", samples=1)
    pulled = si.inpaint(photo_model, picture, mask, steps=4, seed=0, consistency=2.0, spacing="leading", samples=2)
    assert not np.array_equal(plain, pulled)
    assert np.array_equal(pulled[mask == 0], picture[mask == 0])
    own = photo_model.info["sampling"]["inpaint"]
    saved = dict(own)
    try:
        own.update(consistency=2.0, spacing="leading", samples=2)
        assert np.array_equal(si.inpaint(photo_model, picture, mask, steps=4, seed=0), pulled)
        for key in ("consistency", "spacing", "samples"):  # what a model saved before these settings falls back to
            del own[key]
        assert np.array_equal(si.inpaint(photo_model, picture, mask, steps=4, seed=0), plain)
    finally:
        own.clear()
        own.update(saved)
    with torch.inference_mode():  # the pull takes its gradient even there
        assert np.array_equal(si.inpaint(photo_model, picture, mask, steps=4, seed=0, consistency=2.0,
                                         spacing="leading", samples=2), pulled)
    with pytest.raises(ValueError, match="spacing"):
        si.inpaint(photo_model, picture, mask, steps=4, spacing="sideways")


def test_upscale_with_the_ideal_denoiser_recovers_the_high_resolution_picture(sr_model):
    from skimage import data

    # a soft picture: its residual stays inside the range the sampler clips the predicted residual to
    soft = Image.fromarray(data.coffee()).crop((100, 100, 164, 164)).filter(ImageFilter.GaussianBlur(1.5))
    truth = np.asarray(soft)
    low = np.asarray(soft.resize((16, 16), Image.Resampling.BICUBIC))
    residual = (to_unit(truth) - bicubic_up(to_unit(low), (64, 64))) * sr_model.residual_scale
    assert residual.abs().max() < sr_model.residual_scale
    ideal = _ideal(sr_model, residual)
    for eta in (0.0, 1.0):
        for strength in (1.0, 0.6):  # from noise, or from the bicubic upsample noised 3 steps of 5 in
            assert np.array_equal(si.upscale(ideal, low, steps=5, eta=eta, tile=None, strength=strength), truth)


def test_the_models_own_sampling_sets_how_many_samples_an_upscale_averages(sr_model, picture):
    one = si.upscale(sr_model, picture, steps=3, seed=0, samples=1)
    averaged = si.upscale(sr_model, picture, steps=3, seed=0, samples=2)
    sr_model.info.setdefault("sampling", {}).setdefault("upscale", {})["samples"] = 2
    try:
        assert np.array_equal(si.upscale(sr_model, picture, steps=3, seed=0), averaged)
    finally:
        del sr_model.info["sampling"]["upscale"]["samples"]
    assert np.array_equal(si.upscale(sr_model, picture, steps=3, seed=0), one)


def test_an_upscale_below_strength_1_starts_part_way_from_the_upsample(sr_model, picture):
    steps_seen = []
    si.upscale(sr_model, picture, steps=5, seed=0, samples=1, strength=0.6, callback=steps_seen.append)
    assert [info["t"] for info in steps_seen] == [int(t) for t in si._scheduler(sr_model, 5).timesteps[2:]]
    own = si.upscale(sr_model, picture, steps=5, seed=0, samples=1, strength=0.6)
    assert not np.array_equal(own, si.upscale(sr_model, picture, steps=5, seed=0, samples=1))
    sr_model.info.setdefault("sampling", {}).setdefault("upscale", {})["strength"] = 0.6
    try:
        assert np.array_equal(si.upscale(sr_model, picture, steps=5, seed=0, samples=1), own), "the model's default"
    finally:
        del sr_model.info["sampling"]["upscale"]["strength"]
    for wrong in (0.0, 1.5):
        with pytest.raises(ValueError, match="strength"):
            si.upscale(sr_model, picture, steps=5, strength=wrong)
