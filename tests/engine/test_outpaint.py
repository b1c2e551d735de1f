"""Outpainting: the Inpaint task, unchanged, on a canvas expanded by the core (studio.core.canvas), with tiny real
models. The result has the expanded size; every pixel the effective mask leaves alone is bit-identical, also when
"Only masked" crops around a mask that touches the picture's borders."""

import numpy as np
import pytest
from PIL import Image

from studio.core.images import load_image
from studio.core.layers import LayeredDocument
from studio.core.masks import refine
from studio.core.recipe import parse_recipe
from studio.core.regions import plan_region
from studio.engine.jobs import run_recipe
from tests.fixtures.pictures import write_picture

WIDTH, HEIGHT = 64, 32


def expanded_inputs(folder, sides):
    document = LayeredDocument(load_image(write_picture(folder / "small.png", WIDTH, HEIGHT)))
    document.expand_canvas(*sides, overlap=4)
    Image.fromarray(document.picture).save(folder / "picture.png")
    Image.fromarray(document.mask).save(folder / "mask.png")
    return document


@pytest.mark.parametrize("sides, area, padding", [
    ((16, 0, 0, 16), "whole", 32),  # the new area wraps two borders: the whole canvas is processed
    ((0, 0, 16, 0), "masked", 4),  # a strip at the right border: the crop is shifted inside, repeats past top/bottom
])
def test_inpaint_fills_an_expanded_canvas_and_keeps_the_rest(tiny_model, store, one_torch_thread, tmp_path,
                                                            sides, area, padding):
    document = expanded_inputs(tmp_path, sides)
    recipe = parse_recipe({"task": "inpaint", "model": str(tiny_model("sd1")), "prompt": "more of the same",
                           "image": str(tmp_path / "picture.png"), "mask": str(tmp_path / "mask.png"), "steps": 2,
                           "seed": 3, "sampler": "euler", "width": 64, "height": 64, "inpaint_area": area,
                           "mask_padding": padding})
    [result] = run_recipe(recipe, store)
    width, height = document.size
    assert result.pixels.shape == (height, width, 3) and (width, height) != (WIDTH, HEIGHT)
    effective = refine(document.mask, recipe.mask_grow, recipe.mask_feather)
    kept = effective == 0
    assert kept.sum() > 0.3 * kept.size
    assert np.array_equal(result.pixels[kept], document.picture[kept])
    new_area = document.mask == 255
    assert not np.array_equal(result.pixels[new_area], document.picture[new_area]), "the new area was painted"
    if area == "masked":
        context = plan_region(document.size, effective, area, padding, 64, (64, 64)).context
        assert 0 < context.left and context.right == width, "a real crop, against the right border"
