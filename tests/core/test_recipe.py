import json

import pytest

from studio.core.errors import RecipeError
from studio.core.recipe import RECIPE_VERSION, HiresFix, Recipe, load_recipe, parse_recipe

MINIMAL = {"task": "inpaint", "model": "m.safetensors", "image": "a.png", "mask": "m.png"}


def test_defaults_fill_a_minimal_recipe():
    recipe = parse_recipe(MINIMAL)
    assert recipe.steps == 30 and recipe.variations == 1 and recipe.version == RECIPE_VERSION
    assert recipe.sampler == "dpmpp_2m" and recipe.inpaint_area == "whole"


def test_round_trips_through_json():
    recipe = parse_recipe({**MINIMAL, "prompt": "a cat", "seed": 7, "width": 512, "height": 768, "variations": 3})
    assert parse_recipe(json.loads(recipe.to_json())) == recipe


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("steps", 0, "between 1 and 1000"),
        ("steps", "30", "whole number"),
        ("steps", 2.5, "whole number"),
        ("guidance", "high", "must be a number"),
        ("guidance", float("nan"), "must be a number"),
        ("strength", 1.5, "between 0.0 and 1.0"),
        ("seed", -1, "between 0"),
        ("sampler", "Euler A", "lower_snake_case"),
        ("task", "paint", "one of inpaint"),
        ("width", 100, "multiple of 8"),
        ("inpaint_area", "region", "one of whole, masked"),
        ("masked_content", "latent noise", "one of original, fill"),
        ("prompt", 5, "must be text"),
        ("version", RECIPE_VERSION + 1, "newer Studio"),
        ("colour", "red", "unknown field"),
    ],
)
def test_bad_fields_are_named_with_a_reason(field, value, words):
    data = {**MINIMAL, field: value}
    if field == "width":
        data["height"] = 64
    with pytest.raises(RecipeError) as caught:
        parse_recipe(data)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"recipe field '{field}'")


def test_missing_required_fields_are_named():
    with pytest.raises(RecipeError, match="'model': is required"):
        parse_recipe({"task": "inpaint"})
    with pytest.raises(RecipeError, match="'mask': is required"):
        parse_recipe({"task": "inpaint", "model": "m", "image": "a.png"})
    with pytest.raises(RecipeError, match="'height': width and height"):
        parse_recipe({**MINIMAL, "width": 64})


def test_not_an_object():
    with pytest.raises(RecipeError, match="JSON object"):
        parse_recipe([1, 2])


def test_seeds_are_consecutive_per_variation():
    assert parse_recipe({**MINIMAL, "seed": 10, "variations": 3}).seeds() == [10, 11, 12]
    assert parse_recipe({**MINIMAL, "seed": 2**32 - 1, "variations": 2}).seeds() == [2**32 - 1, 0]


def test_load_resolves_paths_relative_to_the_recipe_file(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(MINIMAL))
    recipe = load_recipe(tmp_path / "r.json")
    assert recipe.image == str(tmp_path / "a.png")
    assert recipe.model == str(tmp_path / "m.safetensors")


def test_load_reports_bad_json_and_missing_file(tmp_path):
    (tmp_path / "bad.json").write_text("{ nope")
    with pytest.raises(RecipeError, match="not valid JSON"):
        load_recipe(tmp_path / "bad.json")
    with pytest.raises(RecipeError, match="no recipe file"):
        load_recipe(tmp_path / "absent.json")


def test_replace_validates():
    recipe = parse_recipe(MINIMAL)
    assert recipe.replace(seed=5).seed == 5
    with pytest.raises(RecipeError):
        recipe.replace(steps=-3)
    assert isinstance(recipe, Recipe)


def test_controlnet_units_parse_round_trip_and_resolve_paths(tmp_path):
    data = {"task": "controlnet", "model": "m.safetensors", "image": "photo.png", "prompt": "a house",
            "controlnets": [{"model": "cn/canny", "preprocessor": "canny", "scale": 0.8, "end": 0.6,
                             "params": {"low_threshold": 50}},
                            {"model": "cn/depth.safetensors", "image": "depth.png"}]}
    recipe = parse_recipe(data)
    assert [u.preprocessor for u in recipe.controlnets] == ["canny", "none"]
    assert recipe.controlnets[0].params == {"low_threshold": 50}
    assert parse_recipe(json.loads(recipe.to_json())) == recipe
    resolved = recipe.with_paths_resolved(tmp_path)
    assert resolved.controlnets[1].image == str(tmp_path / "depth.png")
    assert resolved.controlnets[0].image is None


@pytest.mark.parametrize(
    "units, field, words",
    [
        ("canny", "controlnets", "must be a list"),
        ([{"preprocessor": "canny"}], "controlnets[0].model", "is required"),
        ([{"model": "c", "scale": 9}], "controlnets[0].scale", "between 0.0 and 5.0"),
        ([{"model": "c", "start": 0.5, "end": 0.2}], "controlnets[0].end", "must be after start"),
        ([{"model": "c", "strength": 1}], "controlnets[0].strength", "unknown field"),
        ([], "controlnets", "at least one"),
    ],
)
def test_bad_controlnet_units_are_named(units, field, words):
    with pytest.raises(RecipeError) as caught:
        parse_recipe({"task": "controlnet", "model": "m", "image": "p.png", "controlnets": units})
    assert caught.value.field == field and words in str(caught.value)


def test_loras_parse_round_trip_and_resolve_paths(tmp_path):
    data = {**MINIMAL, "loras": [{"path": "styles/ink.safetensors", "weight": 0.8}, {"path": "/abs/rain.safetensors"}]}
    recipe = parse_recipe(data)
    assert [(lora.name, lora.weight) for lora in recipe.loras] == [("ink", 0.8), ("rain", 1.0)]
    assert parse_recipe(json.loads(recipe.to_json())) == recipe
    assert "loras" not in parse_recipe(MINIMAL).to_dict(), "recipes without LoRAs read as before"
    resolved = recipe.with_paths_resolved(tmp_path)
    assert [lora.path for lora in resolved.loras] == [str(tmp_path / "styles" / "ink.safetensors"), "/abs/rain.safetensors"]
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps(data))
    assert load_recipe(recipe_file).loras[0].path == str(tmp_path / "styles" / "ink.safetensors")


@pytest.mark.parametrize(
    "loras, field, words",
    [
        ("ink.safetensors", "loras", "must be a list of LoRAs"),
        (["ink.safetensors"], "loras[0]", "must be an object"),
        ([{"weight": 1}], "loras[0].path", "is required"),
        ([{"path": ""}], "loras[0].path", "must not be empty"),
        ([{"path": "ink.ckpt"}], "loras[0].path", "ink.ckpt is a pickle, and unpickling can run code"),
        ([{"path": "ink.PT"}], "loras[0].path", "Studio refuses pickled LoRAs"),
        ([{"path": "ink.bin"}], "loras[0].path", "use the .safetensors version"),
        ([{"path": "ink.json"}], "loras[0].path", "must be a .safetensors file, got ink.json"),
        ([{"path": "a.safetensors", "weight": 4.5}], "loras[0].weight", "must be between -4.0 and 4.0, got 4.5"),
        ([{"path": "a.safetensors", "weight": "strong"}], "loras[0].weight", "must be a number"),
        ([{"path": "a.safetensors", "scale": 1}], "loras[0].scale", "unknown field; known fields are path, weight"),
        ([{"path": "a.safetensors"}, {"path": "a.safetensors", "weight": 0.5}], "loras[1].path", "listed twice"),
    ],
)
def test_bad_loras_are_named_in_one_line(loras, field, words):
    with pytest.raises(RecipeError) as caught:
        parse_recipe({**MINIMAL, "loras": loras})
    assert caught.value.field == field and words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_upscale_recipes_may_carry_loras_and_a_factor_for_a_stable_diffusion_upscale_model():
    """Whether the model takes them is known once it loads (the ×4 upscaler refuses them: tests/engine)."""
    recipe = parse_recipe({"task": "upscale", "model": "dream.safetensors", "image": "a.png", "upscale_factor": 1.5,
                           "loras": [{"path": "a.safetensors"}], "clip_skip": 2})
    assert recipe.upscale_factor == 1.5 and recipe.loras[0].name == "a" and recipe.clip_skip == 2
    assert "upscale_factor" not in parse_recipe({"task": "upscale", "model": "x4", "image": "a.png"}).to_dict()
    with pytest.raises(RecipeError, match="upscale_factor"):
        parse_recipe({"task": "upscale", "model": "x4", "image": "a.png", "upscale_factor": 9})


def test_hires_fix_is_an_optional_second_pass_of_the_generating_tasks():
    recipe = parse_recipe({"task": "inpaint", "model": "m.safetensors", "image": "a.png", "mask": "m.png",
                           "hires": {"factor": 1.5}})
    assert recipe.hires == HiresFix(factor=1.5, strength=0.5, steps=0)
    assert parse_recipe(recipe.to_dict()) == recipe and recipe.to_dict()["hires"] == {"factor": 1.5, "strength": 0.5,
                                                                                         "steps": 0}
    assert "hires" not in parse_recipe({"task": "sdedit", "model": "m", "image": "a.png"}).to_dict()
    assert parse_recipe({"task": "sdedit", "model": "m", "image": "a.png", "hires": None}).hires is None


@pytest.mark.parametrize("hires, field, reason", [
    ({"factor": 5}, "hires.factor", "between 1.0 and 4.0"),
    ({"strength": 1.5}, "hires.strength", "between 0.0 and 1.0"),
    ({"steps": 2.5}, "hires.steps", "whole number"),
    ({"upscaler": "latent"}, "hires.upscaler", "unknown field"),
    ("2x", "hires", "must be an object"),
])
def test_bad_hires_fields_are_named(hires, field, reason):
    with pytest.raises(RecipeError, match=reason) as error:
        parse_recipe({"task": "sdedit", "model": "m", "image": "a.png", "hires": hires})
    assert error.value.field == field


def test_upscaling_has_its_own_factor_not_a_hires_fix():
    with pytest.raises(RecipeError, match="upscale_factor") as error:
        parse_recipe({"task": "upscale", "model": "m", "image": "a.png", "hires": {"factor": 2}})
    assert error.value.field == "hires"


def test_seamless_tiling_is_a_whole_picture_option_of_the_generating_tasks():
    recipe = parse_recipe({"task": "sdedit", "model": "m", "image": "a.png", "tiling": True})
    assert recipe.tiling and parse_recipe(recipe.to_dict()) == recipe
    assert "tiling" not in recipe.replace(tiling=False).to_dict()


@pytest.mark.parametrize("fields, reason", [
    ({"tiling": "yes"}, "must be true or false"),
    ({"task": "upscale"}, "works in tiles of its own"),
    ({"task": "inpaint", "mask": "m.png", "inpaint_area": "masked"}, "needs the whole picture"),
    ({"hires": {"factor": 2}}, "do not go together yet"),
])
def test_tiling_that_cannot_be_seamless_is_refused(fields, reason):
    with pytest.raises(RecipeError, match=reason) as error:
        parse_recipe({"task": "sdedit", "model": "m", "image": "a.png", "tiling": True, **fields})
    assert error.value.field == "tiling"
