"""Embeddings called by name in a prompt (AUTOMATIC1111's textual inversion): whole words, any case, only the
files a prompt names go into the recipe; a name two files share fails."""

import pytest

from studio.core.checkpoints import embedding_family
from studio.core.embedding_words import apply_embedding_words, named_in
from studio.core.errors import RecipeError
from studio.core.lora_tags import files_by_name
from studio.core.recipe import parse_recipe


def test_names_are_whole_words_in_any_case():
    names = ["bad-hands-5", "bad", "EasyNegative"]
    assert named_in(["(bad-hands-5:1.2), easynegative", "a bad-hands-50 badly"], [n.lower() for n in names]) == [
        "bad-hands-5", "easynegative"]
    assert named_in(["ok"], []) == []


def test_only_the_named_embeddings_join_the_recipe(tmp_path):
    files = files_by_name([str(tmp_path / "EasyNegative.safetensors"), str(tmp_path / "ink.safetensors")])
    values = apply_embedding_words({"prompt": "a cat", "negative_prompt": "easynegative, blurry"}, files)
    assert values["embeddings"] == [{"path": str(tmp_path / "EasyNegative.safetensors")}]
    assert values["negative_prompt"] == "easynegative, blurry", "the word stays: it is where the vectors go"
    assert apply_embedding_words({"prompt": "a cat"}, files)["embeddings"] == []
    recipe = parse_recipe({"task": "sdedit", "model": "m", "image": "p.png",
                           **apply_embedding_words({"prompt": "ink"}, files)})
    assert [e.name for e in recipe.embeddings] == ["ink"]


def test_a_recipe_naming_its_file_keeps_it(tmp_path):
    files = files_by_name([str(tmp_path / "models" / "ink.safetensors")])
    mine = {"path": str(tmp_path / "elsewhere" / "ink.safetensors")}
    assert apply_embedding_words({"prompt": "ink", "embeddings": [mine]}, files)["embeddings"] == [mine]


def test_a_name_two_files_share_fails(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    files = files_by_name([str(tmp_path / "a" / "ink.safetensors"), str(tmp_path / "b" / "ink.safetensors")])
    with pytest.raises(RecipeError, match="'ink' names 2 embeddings"):
        apply_embedding_words({"prompt": "ink"}, files)
    assert apply_embedding_words({"prompt": "no such word"}, files)["embeddings"] == []


@pytest.mark.parametrize("shapes, family", [
    ({"emb_params": (8, 768)}, "sd15"),
    ({"emb_params": (2, 1024)}, "sd2"),
    ({"clip_l": (2, 768), "clip_g": (2, 1280)}, "sdxl"),
    ({"<cat-toy>": (768,)}, "sd15"),
    ({"emb_params": (2, 32)}, None),  # an embedding, for no known family
    ({"weight": (768,)}, False),
    ({"emb_params": (4096, 768)}, False),
    ({"a": (3,), "b": (3,)}, False),
])
def test_embedding_files_are_told_apart_by_their_tensors(shapes, family):
    assert embedding_family(shapes) == family


def test_pickled_embeddings_are_refused():
    with pytest.raises(RecipeError, match="refuses pickled embeddings"):
        parse_recipe({"task": "sdedit", "model": "m", "image": "p.png", "embeddings": [{"path": "bad.pt"}]})
