"""Clip skip in recipes and metadata: AUTOMATIC1111's numbering (1 = off), validated, left out of recipes that do
not use it, written to the parameters text as A1111 writes it."""

import numpy as np
import pytest

from studio.core.errors import RecipeError
from studio.core.metadata import ResultMetadata, a1111_parameters, read_metadata, write_png
from studio.core.recipe import parse_recipe

MINIMAL = {"task": "inpaint", "model": "m.safetensors", "image": "a.png", "mask": "m.png"}


def test_clip_skip_defaults_to_one_and_is_left_out_of_recipes_that_do_not_use_it():
    recipe = parse_recipe(MINIMAL)
    assert recipe.clip_skip == 1
    assert "clip_skip" not in recipe.to_dict(), "recipes without clip skip serialize as before"
    assert parse_recipe({**MINIMAL, "clip_skip": 1}).to_dict() == recipe.to_dict()
    two = parse_recipe({**MINIMAL, "clip_skip": 2})
    assert two.to_dict()["clip_skip"] == 2 and parse_recipe(two.to_dict()) == two
    assert two.replace(seed=5).clip_skip == 2 and two != recipe


@pytest.mark.parametrize(
    "value, words",
    [(0, "must be between 1 and 12, got 0"), (13, "must be between 1 and 12, got 13"),
     ("2", "must be a whole number"), (1.5, "must be a whole number"), (True, "must be a whole number")],
)
def test_bad_clip_skip_values_name_the_field(value, words):
    with pytest.raises(RecipeError) as error:
        parse_recipe({**MINIMAL, "clip_skip": value})
    assert error.value.field == "clip_skip" and words in str(error.value)
    assert "\n" not in str(error.value)


def test_metadata_round_trips_clip_skip_and_writes_it_as_automatic1111(tmp_path):
    recipe = parse_recipe({**MINIMAL, "model": "/m/anime.safetensors", "clip_skip": 2, "seed": 3})
    meta = ResultMetadata(recipe, {"model": "0123456789abcdef"}, {"sampler_label": "Euler a"})
    path = write_png(tmp_path / "r.png", np.zeros((8, 8, 3), np.uint8), meta)
    assert read_metadata(path).recipe == recipe
    settings = a1111_parameters(meta, (8, 8)).split("\n")[2]
    assert "Denoising strength: 1, Clip skip: 2," in settings
    plain = ResultMetadata(parse_recipe(MINIMAL), {}, {})
    assert "Clip skip" not in a1111_parameters(plain, (8, 8))  # A1111 leaves out the default
