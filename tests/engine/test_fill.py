"""Masked content: with "fill" the model starts from the masked part painted from its surroundings (so a strength
below 1 removes what was there); pixels outside the mask stay the picture's own either way."""

import numpy as np
import pytest

from studio.core.images import load_image
from studio.core.recipe import parse_recipe
from studio.engine.fill import prefill
from studio.engine.jobs import run_recipe
from tests.fixtures.pictures import box_mask, write_picture_and_mask

WIDTH, HEIGHT = 64, 48
BOX = (20, 14, 44, 34)


def test_fill_paints_the_hole_from_its_surroundings_and_keeps_the_rest():
    picture = np.full((HEIGHT, WIDTH, 3), (40, 120, 200), np.uint8)
    left, top, right, bottom = BOX
    picture[top:bottom, left:right] = (250, 10, 10)  # the object to remove
    hole = box_mask(WIDTH, HEIGHT, BOX)
    filled = prefill(picture, hole, "fill")
    assert np.array_equal(filled[hole == 0], picture[hole == 0])
    assert np.abs(filled[hole > 0].astype(int) - (40, 120, 200)).max() <= 4  # the background, not the object
    assert prefill(picture, hole, "original") is picture


def test_nothing_to_fill_or_nothing_to_fill_from_leaves_the_picture():
    picture = np.zeros((8, 8, 3), np.uint8)
    assert prefill(picture, np.zeros((8, 8), np.uint8), "fill") is picture
    assert prefill(picture, np.full((8, 8), 255, np.uint8), "fill") is picture
    with pytest.raises(ValueError, match="masked content"):
        prefill(picture, np.zeros((8, 8), np.uint8), "latent noise")


@pytest.mark.parametrize("task, flavour", [("inpaint", "sd1"), ("sdedit", "sd1"), ("inpaint", "starter_photo")])
def test_fill_changes_what_the_model_starts_from_and_never_the_outside(tiny_model, store, tmp_path, task, flavour):
    picture_path, mask_path = write_picture_and_mask(tmp_path, WIDTH, HEIGHT, BOX)
    fields = {"task": task, "model": str(tiny_model(flavour, "diffusers" if flavour.startswith("starter") else
                                                     "single_file")),
              "image": str(picture_path), "mask": str(mask_path), "steps": 4, "seed": 5, "strength": 0.5,
              "sampler": "euler", "mask_feather": 0}
    [kept] = run_recipe(parse_recipe(fields), store)
    [filled] = run_recipe(parse_recipe({**fields, "masked_content": "fill"}), store)
    outside = box_mask(WIDTH, HEIGHT, BOX) == 0
    original = load_image(picture_path)
    assert np.array_equal(filled.pixels[outside], original[outside])
    assert not np.array_equal(filled.pixels[~outside], kept.pixels[~outside])
    assert filled.metadata.recipe.masked_content == "fill"
