"""Textual-inversion embeddings with tiny real models: the name in a prompt brings the file's vectors in at that
place, exactly as diffusers' own loader would encode them, without leaving anything behind on the model; files
that do not fit say what they were made for."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from studio.core.errors import ModelError, StudioError
from studio.core.metadata import ResultMetadata, a1111_parameters
from studio.core.recipe import parse_recipe
from studio.engine.embeddings import embedding_vectors
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.engine.model_store import ModelStore
from studio.engine.prompt_embeds import prompt_inputs, token_chunks, weighted_embeddings
from studio.engine.speed import OFF
from tests.fixtures.tiny_embeddings import save_a1111_embedding, save_diffusers_embedding, save_sdxl_embedding
from tests.engine.test_prompt_weights import picture, pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def own_store():
    return ModelStore(device=torch.device("cpu"), dtype=torch.float32)


def ref(path):
    return parse_recipe({"task": "sdedit", "model": "m", "image": "p.png",
                         "embeddings": [{"path": str(path)}]}).embeddings


def sdedit(model, **changes):
    fields = {"task": "sdedit", "model": str(model), "image": "p.png", "prompt": "a red door", "steps": 2,
              "seed": 1, "strength": 0.8, "sampler": "euler", "width": 64, "height": 64}
    return parse_recipe({**fields, **changes})


def job(store, recipe):
    [result] = run_recipe(recipe, store, inputs=inputs_from_arrays(picture(), None))
    return result


@pytest.mark.parametrize("flavour", ["sd1", "sdxl"])
def test_the_vectors_go_where_diffusers_own_loader_puts_them(tiny_model, own_store, tmp_path, flavour):
    """diffusers' load_textual_inversion (on a separate copy of the pipeline) is the reference encoding."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    path = (save_sdxl_embedding if flavour == "sdxl" else save_a1111_embedding)(tmp_path / "inkwash.safetensors", 3)
    pipe = pipeline(own_store, tiny_model(flavour))
    vectors = embedding_vectors([e for e in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)) if e], ref(path))
    ours = weighted_embeddings(pipe, "a red door, inkwash style", "blurry", 1, vectors)

    cls = StableDiffusionXLPipeline if flavour == "sdxl" else StableDiffusionPipeline
    reference = cls(**{name: copy.deepcopy(part) if "text" in name or "token" in name else part
                       for name, part in pipe.components.items() if name in cls._get_signature_keys(cls)[0]})
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    if flavour == "sdxl":
        reference.load_textual_inversion(tensors["clip_l"], token="inkwash", text_encoder=reference.text_encoder,
                                         tokenizer=reference.tokenizer)
        reference.load_textual_inversion(tensors["clip_g"], token="inkwash", text_encoder=reference.text_encoder_2,
                                         tokenizer=reference.tokenizer_2)
    else:
        reference.load_textual_inversion(tensors["emb_params"], token="inkwash")
    with torch.no_grad():
        encoded = reference.encode_prompt("a red door, inkwash style", device="cpu", num_images_per_prompt=1,
                                          do_classifier_free_guidance=True, negative_prompt="blurry")
    assert torch.allclose(ours["prompt_embeds"], encoded[0], atol=1e-5)
    assert torch.allclose(ours["negative_prompt_embeds"], encoded[1], atol=1e-5)
    if flavour == "sdxl":  # pooled at the end token, as A1111 does (HF's legacy argmax would pick the added token)
        text = reference.maybe_convert_prompt("a red door, inkwash style", reference.tokenizer_2)
        ids = reference.tokenizer_2(text, padding="max_length", max_length=77, return_tensors="pt").input_ids
        with torch.no_grad():
            hidden = reference.text_encoder_2(ids, output_hidden_states=True).last_hidden_state
            end = int((ids[0] == reference.tokenizer_2.eos_token_id).nonzero()[0])
            expected = reference.text_encoder_2.text_projection(hidden[0, end])
        assert torch.allclose(ours["pooled_prompt_embeds"][0], expected, atol=1e-5)


def test_a_named_embedding_changes_the_picture_and_leaves_nothing_behind(tiny_model, own_store, tmp_path):
    model = tiny_model("sd1")
    path = save_a1111_embedding(tmp_path / "inkwash.safetensors", 2, seed=3)
    vocabulary = len(pipeline(own_store, model).tokenizer)
    plain = job(own_store, sdedit(model, prompt="a red door, style"))
    named = job(own_store, sdedit(model, prompt="a red door, inkwash", embeddings=[{"path": str(path)}]))
    assert not np.array_equal(named.pixels, plain.pixels)
    assert named.metadata.hashes["embedding0"] and "TI hashes: \"inkwash: " in a1111_parameters(named.metadata, (64, 64))
    again = job(own_store, sdedit(model, prompt="a red door, style"))
    assert np.array_equal(again.pixels, plain.pixels), "no token was added to the model"
    assert len(pipeline(own_store, model).tokenizer) == vocabulary
    unnamed = job(own_store, sdedit(model, prompt="a red door, style", embeddings=[{"path": str(path)}]))
    assert np.array_equal(unnamed.pixels, plain.pixels), "an embedding the prompts do not name does nothing"


def test_names_match_whole_words_in_any_case_and_take_emphasis(tiny_model, own_store, tmp_path):
    pipe = pipeline(own_store, tiny_model("sd1"))
    vectors = {"ink": torch.ones(2, 32)}
    chunks = token_chunks(pipe.tokenizer, "Ink, inkwell, (ink:1.5) BREAK red-ink ink", vectors)
    assert [sorted(chunk.vectors) for chunk in chunks] == [[0, 1, 6, 7], [3, 4]]  # inkwell and red-ink stay words
    assert chunks[0].weights[6:8] == [1.5, 1.5] and chunks[0].weights[:2] == [1.0, 1.0]


def test_a_multi_vector_embedding_stays_in_one_chunk(tiny_model, own_store):
    pipe = pipeline(own_store, tiny_model("sd1"))
    words = " ".join(["red"] * 73)
    chunks = token_chunks(pipe.tokenizer, f"{words} ink", {"ink": torch.ones(4, 32)})
    assert len(chunks[0].tokens) == 73 and sorted(chunks[1].vectors) == [0, 1, 2, 3]


def test_the_diffusers_layout_and_cached_encodings_follow_the_file(tiny_model, tmp_path):
    store = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    model = tiny_model("sd1")
    path = save_diffusers_embedding(tmp_path / "toy.safetensors", seed=1)
    recipe = sdedit(model, prompt="a toy", embeddings=[{"path": str(path)}])
    pipe = pipeline(store, model)
    first = prompt_inputs(pipe, "a toy", "", embeddings=recipe.embeddings)["prompt_embeds"]
    save_diffusers_embedding(path, seed=2)  # retrained since
    second = prompt_inputs(pipe, "a toy", "", embeddings=recipe.embeddings)["prompt_embeds"]
    assert not torch.equal(first, second)


def test_files_that_do_not_fit_say_what_they_were_made_for(tiny_model, own_store, tmp_path):
    sd1, sdxl = tiny_model("sd1"), tiny_model("sdxl")
    xl_file = save_sdxl_embedding(tmp_path / "xlstyle.safetensors")
    wide = save_a1111_embedding(tmp_path / "wide.safetensors", width=768)
    with pytest.raises(ModelError, match="the embedding xlstyle was made for SDXL models; this model is a model "
                                         "with 32-wide text embeddings"):
        job(own_store, sdedit(sd1, prompt="xlstyle", embeddings=[{"path": str(xl_file)}]))
    with pytest.raises(ModelError, match="the embedding wide was made for SD 1.x models; this model is SDXL"):
        job(own_store, sdedit(sdxl, prompt="wide", embeddings=[{"path": str(wide)}]))
    lora_like = tmp_path / "notes.safetensors"
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(3), "b": torch.zeros(3)}, str(lora_like))
    with pytest.raises(ModelError, match="notes.safetensors is not a textual-inversion embedding"):
        job(own_store, sdedit(sd1, prompt="notes", embeddings=[{"path": str(lora_like)}]))
    assert job(own_store, sdedit(sd1)).pixels is not None, "the model stays usable"


def test_starter_models_refuse_embeddings(tiny_model, store, tmp_path):
    path = save_a1111_embedding(tmp_path / "ink.safetensors")
    recipe = parse_recipe({"task": "sdedit", "model": str(tiny_model("starter_photo")), "image": "p.png",
                           "steps": 2, "strength": 0.5, "embeddings": [{"path": str(path)}]})
    with pytest.raises(StudioError, match="the starter model .* reads no prompt"):
        run_recipe(recipe, store, inputs=inputs_from_arrays(picture(), None))
