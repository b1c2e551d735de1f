"""Clip skip with tiny real models (their CLIP text encoders have 2 layers, so clip skip 2 is the deepest that
means something): 1 is today's pixels; 2 encodes each prompt as diffusers' `encode_prompt(clip_skip=1)` does, on the
plain and the weighted path, for the negative prompt too (as A1111 does; diffusers 0.42 skips it for the positive
prompt only); the embedding cache keeps them apart; the models without a CLIP layer to pick refuse it.

diffusers 0.42's SD `encode_prompt(clip_skip=...)` reads `text_encoder.text_model.final_layer_norm`, which
transformers 5's CLIPTextModel no longer has: the reference calls here lend it that attribute (`diffusers_can_skip`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.errors import StudioError
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.engine.model_store import ModelStore
from studio.engine.prompt_embeds import diffusers_clip_skip, prompt_inputs, weighted_embeddings
from studio.engine.speed import OFF
from tests.engine.test_prompt_weights import job, picture, pipeline, sdedit_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py: tiny tensors, one thread


def diffusers_can_skip(pipe, monkeypatch) -> None:
    for name in ("text_encoder", "text_encoder_2"):
        encoder = getattr(pipe, name, None)
        if encoder is not None and not hasattr(encoder, "text_model"):
            monkeypatch.setitem(encoder.__dict__, "text_model", encoder)  # transformers 4's layout, for diffusers


def diffusers_embeddings(pipe, prompt: str, negative: str, clip_skip: int | None) -> dict:
    """diffusers' own encoding of each prompt of the pair with its `clip_skip` (the negative one encoded as a
    prompt, so that it gets the clip skip as well)."""
    names = ["prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    embeds = {}
    for text, prefix in ((prompt, ""), (negative, "negative_")):
        encoded = pipe.encode_prompt(text, device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=False,
                                     clip_skip=clip_skip)
        embeds[f"{prefix}prompt_embeds"] = encoded[0]
        if len(encoded) == 4:
            embeds[f"{prefix}pooled_prompt_embeds"] = encoded[2]
    if not negative and getattr(pipe.config, "force_zeros_for_empty_prompt", False):  # SDXL, as diffusers does
        for name in ("negative_prompt_embeds", "negative_pooled_prompt_embeds"):
            embeds[name] = torch.zeros_like(embeds[name])
    return {name: embeds[name] for name in names if name in embeds}


def stock_sdedit(store, path, **text) -> np.ndarray:
    """diffusers' own img2img pipeline on the same model."""
    pipe = pipeline(store, path)
    with torch.inference_mode():
        if "clip_skip" in text:
            text = diffusers_embeddings(pipe, "a red door", "", text["clip_skip"])
        output = pipe(**(text or {"prompt": "a red door"}), num_inference_steps=2,
                      guidance_scale=7.5, generator=[torch.Generator(device="cpu").manual_seed(1)],
                      num_images_per_prompt=1, output_type="np", image=Image.fromarray(picture()), strength=0.8)
    return (np.clip(output.images[0], 0.0, 1.0) * 255).round().astype(np.uint8)


def test_the_tiny_text_encoders_have_two_layers(tiny_model, store):
    pipe = pipeline(store, tiny_model("sd1"))
    assert pipe.text_encoder.config.num_hidden_layers == 2


def test_a1111_numbering_maps_to_diffusers():
    assert diffusers_clip_skip(1) is None and diffusers_clip_skip(2) == 1 and diffusers_clip_skip(12) == 11


def test_clip_skip_one_keeps_the_pipeline_arguments_and_the_pixels(tiny_model, store):
    path = tiny_model("sd1")
    pipe = pipeline(store, path)
    assert prompt_inputs(pipe, "a red door", "", 1) == {"prompt": "a red door", "negative_prompt": None}
    assert set(prompt_inputs(pipe, "a red door", "", 2)) == {"prompt_embeds", "negative_prompt_embeds"}
    plain = job(store, path)
    assert np.array_equal(job(store, path, clip_skip=1), plain)
    assert np.array_equal(stock_sdedit(store, path), plain)  # today's pixels: stock diffusers'


@pytest.mark.parametrize("flavour", ["sd1", "sdxl"])
@pytest.mark.parametrize("prompt", ["a red door", "a (red:1.3) door"])
def test_clip_skip_two_changes_the_picture_as_diffusers_clip_skip_one(tiny_model, store, monkeypatch, flavour, prompt):
    path = tiny_model(flavour)
    skipped = job(store, path, prompt=prompt, clip_skip=2)
    assert not np.array_equal(skipped, job(store, path, prompt=prompt))
    if prompt == "a red door":
        diffusers_can_skip(pipeline(store, path), monkeypatch)
        assert np.array_equal(skipped, stock_sdedit(store, path, clip_skip=1))


@pytest.mark.parametrize("flavour", ["sd1", "sd2", "sdxl"])
def test_weighted_path_with_clip_skip_encodes_exactly_as_diffusers(tiny_model, store, monkeypatch, flavour):
    pipe = pipeline(store, tiny_model(flavour))
    diffusers_can_skip(pipe, monkeypatch)
    with torch.inference_mode():
        ours = weighted_embeddings(pipe, "a (red:1.0) door", "blurry", clip_skip=2)
        theirs = diffusers_embeddings(pipe, "a red door", "blurry", clip_skip=1)
        stock = pipe.encode_prompt("a red door", device="cpu", num_images_per_prompt=1,
                                   do_classifier_free_guidance=True, negative_prompt="blurry", clip_skip=1)
        unskipped = weighted_embeddings(pipe, "a (red:1.0) door", "blurry")
    assert set(ours) == set(theirs)
    for name, expected in theirs.items():
        torch.testing.assert_close(ours[name], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours["prompt_embeds"], stock[0], rtol=1e-5, atol=1e-5)  # the call A1111 users map to
    assert not torch.allclose(ours["prompt_embeds"], unskipped["prompt_embeds"])
    assert not torch.allclose(ours["negative_prompt_embeds"], unskipped["negative_prompt_embeds"])


@pytest.mark.parametrize("prompt", ["a red door", "a (red:1.3) door"])
def test_the_embedding_cache_keeps_clip_skips_apart(tiny_model, prompt):
    path = tiny_model("sd1")
    uncached = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    expected = {n: job(uncached, path, prompt=prompt, clip_skip=n) for n in (1, 2)}
    cached = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    cached.get(path).extra["speed"] = OFF.replace(embedding_cache=True)
    for n in (1, 2, 1, 2):
        assert np.array_equal(job(cached, path, prompt=prompt, clip_skip=n), expected[n])


@pytest.mark.parametrize("flavour, task", [("sdxl_inpaint", "inpaint"), ("sd1", "controlnet")])
def test_inpaint_and_controlnet_take_clip_skip(tiny_model, store, flavour, task):
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    changes = {"task": task, "mask": "m.png"}
    if task == "controlnet":
        changes = {"task": task, "controlnets": [{"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny"}]}
    inputs = inputs_from_arrays(picture(), mask if task == "inpaint" else None)
    results = [run_recipe(sdedit_recipe(tiny_model(flavour), **changes, clip_skip=n), store, inputs=inputs)[0]
               for n in (1, 2)]
    assert not np.array_equal(results[0].pixels, results[1].pixels)
    assert results[1].metadata.recipe.clip_skip == 2


def test_starter_models_refuse_clip_skip(tiny_model, store):
    recipe = sdedit_recipe(tiny_model("starter_photo"), clip_skip=2, sampler="ddim")
    with pytest.raises(StudioError, match="the starter model .* has none: use clip skip 1"):
        run_recipe(recipe, store, inputs=inputs_from_arrays(picture(), None))
