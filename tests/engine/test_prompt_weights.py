"""engine/prompt_embeds.py with tiny real models: plain prompts keep diffusers' own path, weighted and long prompts
become embeddings that match diffusers' encoding where they should and change the picture where they should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core.recipe import parse_recipe
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.engine.model_store import ModelStore
from studio.engine.prompt_embeds import prompt_inputs, weighted_embeddings
from studio.engine.speed import OFF

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py: tiny tensors, one thread

WORDS = ["red", "green", "blue", "cat", "dog"]  # one token each
LONG = " ".join(WORDS * 30)  # 150 tokens
OTHER_TAIL = " ".join(WORDS * 15 + ["house"] * 75)  # the same first 75 tokens, others after them


@pytest.fixture
def own_store():
    return ModelStore(device=torch.device("cpu"), dtype=torch.float32)


def picture(width=64, height=64):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], axis=2).astype(np.uint8)


def sdedit_recipe(path, **changes):
    fields = {"task": "sdedit", "model": str(path), "image": "p.png", "prompt": "a red door", "steps": 2,
              "seed": 1, "strength": 0.8, "sampler": "euler", "width": 64, "height": 64}
    return parse_recipe({**fields, **changes})


def pipeline(store, path, settings=OFF):
    from studio.engine.plugin_adapters import build_sampling_pipeline

    model = store.get(path)
    model.extra["speed"] = settings
    return build_sampling_pipeline(model, "sdedit", sdedit_recipe(path))


def job(store, path, **changes):
    [result] = run_recipe(sdedit_recipe(path, **changes), store, inputs=inputs_from_arrays(picture(), None))
    return result.pixels


def test_a_plain_prompt_pair_stays_text_for_the_pipeline(tiny_model, store):
    pipe = pipeline(store, tiny_model("sd1"))
    assert prompt_inputs(pipe, "a red door", "") == {"prompt": "a red door", "negative_prompt": None}
    assert prompt_inputs(pipe, "a red door", "blurry") == {"prompt": "a red door", "negative_prompt": "blurry"}
    assert "prompt_embeds" in prompt_inputs(pipe, "a (red) door", "")
    assert "prompt_embeds" in prompt_inputs(pipe, "a red door", LONG)


@pytest.mark.parametrize("flavour", ["sd1", "sd2", "sdxl"])
def test_weight_one_encodes_exactly_as_diffusers(tiny_model, store, flavour):
    pipe = pipeline(store, tiny_model(flavour))
    with torch.inference_mode():
        ours = weighted_embeddings(pipe, "a (red:1.0) door", "blurry")
        theirs = pipe.encode_prompt("a red door", device="cpu", num_images_per_prompt=1,
                                    do_classifier_free_guidance=True, negative_prompt="blurry")
    names = ["prompt_embeds", "negative_prompt_embeds"]
    if flavour == "sdxl":
        names += ["pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    for name, expected in zip(names, theirs):
        torch.testing.assert_close(ours[name], expected, rtol=1e-5, atol=1e-5)


def test_long_prompts_keep_every_chunk_and_pad_the_shorter_side(tiny_model, store):
    pipe = pipeline(store, tiny_model("sdxl"))
    with torch.inference_mode():
        inputs = weighted_embeddings(pipe, LONG, "blurry")
        breaks = weighted_embeddings(pipe, "a red door BREAK a (blue:1.2) sky", "")
    assert inputs["prompt_embeds"].shape[:2] == (1, 154)  # two chunks of 77
    assert inputs["negative_prompt_embeds"].shape == inputs["prompt_embeds"].shape
    assert inputs["pooled_prompt_embeds"].shape == inputs["negative_pooled_prompt_embeds"].shape
    assert inputs["pooled_prompt_embeds"].shape[0] == 1
    assert breaks["prompt_embeds"].shape[:2] == (1, 154)
    assert not breaks["negative_prompt_embeds"].any()  # SDXL's zeros for an empty negative, as diffusers


def test_weights_scale_tokens_and_keep_the_mean(tiny_model, store):
    pipe = pipeline(store, tiny_model("sd1"))
    with torch.inference_mode():
        plain = weighted_embeddings(pipe, "a (red:1.0) door", "")["prompt_embeds"]
        heavy = weighted_embeddings(pipe, "a (red:1.5) door", "")["prompt_embeds"]
    assert not torch.allclose(plain, heavy)
    torch.testing.assert_close(heavy.mean(), plain.mean(), rtol=1e-4, atol=1e-6)


def test_weights_and_long_prompts_change_the_picture(tiny_model, own_store):
    path = tiny_model("sd1")
    plain = job(own_store, path)
    assert np.array_equal(job(own_store, path, prompt="a (red:1.0) door"), plain)
    assert not np.array_equal(job(own_store, path, prompt="a (red:1.8) door"), plain)
    long, other_tail = job(own_store, path, prompt=LONG), job(own_store, path, prompt=OTHER_TAIL)
    assert not np.array_equal(long, other_tail)  # the tokens after the first 75 count


@pytest.mark.parametrize("flavour, task", [("sdxl_inpaint", "inpaint"), ("sd1", "controlnet")])
def test_other_tasks_take_weighted_prompts(tiny_model, own_store, flavour, task):
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    changes = {"task": task, "mask": "m.png", "prompt": "a ((red)) door", "negative_prompt": LONG}
    if task == "controlnet":
        changes = {"task": task, "prompt": LONG, "negative_prompt": "[blurry]",
                   "controlnets": [{"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny"}]}
    recipe = sdedit_recipe(tiny_model(flavour), **changes)
    [result] = run_recipe(recipe, own_store, inputs=inputs_from_arrays(picture(), mask if task == "inpaint" else None))
    assert result.pixels.shape == (64, 64, 3)


def test_upscaler_takes_weighted_prompts(tiny_model, own_store):
    recipe = parse_recipe({"task": "upscale", "model": str(tiny_model("upscaler")), "image": "p.png",
                           "prompt": "a (sharp:1.4) photo", "negative_prompt": LONG, "steps": 2, "seed": 1})
    [result] = run_recipe(recipe, own_store, inputs=inputs_from_arrays(picture(16, 16), None))
    assert result.pixels.shape == (64, 64, 3)


def test_weighted_prompts_are_cached_per_prompt_pair(tiny_model, own_store):
    path = tiny_model("sd1")
    encoder = own_store.get(path).components["text_encoder"]
    calls = []
    hook = encoder.register_forward_hook(lambda module, args, output: calls.append(args[0].shape))
    try:
        cached = OFF.replace(embedding_cache=True)
        with torch.inference_mode():
            first = prompt_inputs(pipeline(own_store, path, cached), "a (red:1.3) door", "blurry")
            again = prompt_inputs(pipeline(own_store, path, cached), "a (red:1.3) door", "blurry")
            assert len(calls) == 2  # positive and negative, encoded once
            prompt_inputs(pipeline(own_store, path, cached), "a (red:1.4) door", "blurry")
            assert len(calls) == 4
        torch.testing.assert_close(first["prompt_embeds"], again["prompt_embeds"], rtol=0, atol=0)
    finally:
        hook.remove()


def test_cached_weighted_prompts_follow_text_encoder_loras(tiny_model, tmp_path):
    """The cache must not hand a LoRA job the base model's weighted embeddings, or the reverse."""
    from tests.fixtures.tiny_loras import save_diffusers_lora

    words = save_diffusers_lora("sd1", tmp_path / "words.safetensors", seed=3, parts=("text_encoder",))
    lora = {"loras": [{"path": str(words), "weight": 1.0}], "prompt": "(ink:1.3) lines"}
    path = tiny_model("sd1")
    uncached = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    expected = job(uncached, path, **lora)
    cached = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    cached.get(path).extra["speed"] = OFF.replace(embedding_cache=True)
    base = job(cached, path, prompt="(ink:1.3) lines")
    assert np.array_equal(job(cached, path, **lora), expected)
    assert not np.array_equal(expected, base)
    assert np.array_equal(job(cached, path, prompt="(ink:1.3) lines"), base)


def test_a_full_chunk_is_cut_after_its_last_comma_as_a1111_does(tiny_model, store):
    from studio.engine.prompt_embeds import CHUNK, token_chunks

    tokenizer = pipeline(store, tiny_model("sd1")).tokenizer
    words = ["door"] * 70 + [","] + ["blue", "sky", "at", "night", "today", "again"]  # the comma is token 71
    chunks = token_chunks(tokenizer, " ".join(words))
    first, second = (chunk.tokens for chunk in chunks)
    assert len(first) == 71 and tokenizer.decode(first[-1:]).strip() == ","
    assert len(first) + len(second) == 77 and len(second) < CHUNK
    far = token_chunks(tokenizer, " ".join(["door"] * 10 + [","] + ["red"] * 70))  # comma too early: cut at 75
    assert [len(chunk.tokens) for chunk in far] == [CHUNK, 6]
