import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core.errors import RecipeError
from studio.core.recipe import parse_recipe
from studio.core.sweeps import expand

BASE = {"task": "sdedit", "model": "m", "image": "p.png", "seed": 100}


def test_variations_alone_give_consecutive_seeds():
    jobs = expand(parse_recipe({**BASE, "variations": 3}))
    assert [j.seed for j in jobs] == [100, 101, 102]
    assert all(j.recipe.variations == 1 and not j.recipe.sweep for j in jobs)


def test_a_grid_of_guidance_by_steps_with_variations_innermost():
    jobs = expand(parse_recipe({**BASE, "variations": 2, "sweep": {"steps": [10, 20], "guidance": [3, 7.5]}}))
    assert len(jobs) == 8
    assert [(j.recipe.guidance, j.recipe.steps, j.seed) for j in jobs[:4]] == [
        (3.0, 10, 100), (3.0, 10, 101), (3.0, 20, 100), (3.0, 20, 101)]
    assert jobs[5].swept == {"guidance": 7.5, "steps": 10, "seed": 101}
    assert [j.index for j in jobs] == list(range(8))


def test_controlnet_scale_sweeps_every_unit():
    recipe = parse_recipe({**BASE, "task": "controlnet", "controlnets": [{"model": "c"}, {"model": "d"}],
                           "sweep": {"controlnet_scale": [0.5, 1.0]}})
    jobs = expand(recipe)
    assert [[u.scale for u in j.recipe.controlnets] for j in jobs] == [[0.5, 0.5], [1.0, 1.0]]


def test_lora_weight_sweeps_every_lora_and_clip_skip_its_own_field():
    recipe = parse_recipe({**BASE, "loras": [{"path": "ink.safetensors", "weight": 0.8}, {"path": "rain.safetensors"}],
                           "sweep": {"lora_weight": [0, -0.5], "clip_skip": [1, 2]}})
    jobs = expand(recipe)
    assert [([lora.weight for lora in j.recipe.loras], j.recipe.clip_skip) for j in jobs] == [
        ([0.0, 0.0], 1), ([0.0, 0.0], 2), ([-0.5, -0.5], 1), ([-0.5, -0.5], 2)]
    assert jobs[1].swept == {"lora_weight": 0, "clip_skip": 2, "seed": 100}
    assert [lora.path for lora in jobs[0].recipe.loras] == ["ink.safetensors", "rain.safetensors"]


def test_hires_strength_sweeps_the_second_pass_only():
    recipe = parse_recipe({**BASE, "strength": 0.6, "hires": {"factor": 1.5, "strength": 0.5, "steps": 8},
                           "sweep": {"hires_strength": [0.3, 0.7]}})
    jobs = expand(recipe)
    assert [(j.recipe.strength, j.recipe.hires.strength, j.recipe.hires.factor, j.recipe.hires.steps) for j in jobs] == [
        (0.6, 0.3, 1.5, 8), (0.6, 0.7, 1.5, 8)]
    assert jobs[1].swept == {"hires_strength": 0.7, "seed": 100}
    with pytest.raises(RecipeError, match="between 0.0 and 1.0") as caught:
        expand(recipe.replace(sweep={"hires_strength": [2]}))
    assert caught.value.field == "sweep.hires_strength"


def test_prompt_sr_replaces_the_first_phrase_in_both_prompts_as_a1111_does():
    recipe = parse_recipe({**BASE, "prompt": "a cat on a mat, cat eyes", "negative_prompt": "ugly cat",
                           "sweep": {"prompt_sr": ["cat", "red fox"], "steps": [10, 20]}})
    jobs = expand(recipe)
    assert [(j.recipe.steps, j.recipe.prompt, j.recipe.negative_prompt) for j in jobs] == [
        (10, "a cat on a mat, cat eyes", "ugly cat"), (10, "a red fox on a mat, red fox eyes", "ugly red fox"),
        (20, "a cat on a mat, cat eyes", "ugly cat"), (20, "a red fox on a mat, red fox eyes", "ugly red fox")]
    assert jobs[1].swept == {"steps": 10, "prompt_sr": "red fox", "seed": 100}


@pytest.mark.parametrize(
    "sweep, field, words",
    [
        ({"prompt": ["a", "b"]}, "sweep.prompt", "cannot be swept"),
        ({"steps": []}, "sweep.steps", "non-empty list"),
        ({"steps": [10, 0]}, "sweep.steps", "between 1 and 1000"),
        ({"sampler": ["euler", "Bad Name"]}, "sweep.sampler", "lower_snake_case"),
        ({"controlnet_scale": [1.0]}, "sweep.controlnet_scale", "no ControlNet"),
        ({"lora_weight": [1.0]}, "sweep.lora_weight", "no LoRA to weigh"),
        ({"prompt_sr": ["dog", "cat"]}, "sweep.prompt_sr", "'dog' (the first value) is in neither"),
        ({"prompt_sr": ["cat", 3]}, "sweep.prompt_sr", "list of words or phrases"),
        ({"clip_skip": [13]}, "sweep.clip_skip", "between 1 and 12"),
        ({"hires_strength": [0.5]}, "sweep.hires_strength", "no hires fix"),
    ],
)
def test_bad_sweeps_name_the_axis(sweep, field, words):
    with pytest.raises(RecipeError) as caught:
        expand(parse_recipe({**BASE, "sweep": sweep}))
    assert caught.value.field == field and words in str(caught.value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=4, unique=True),
       st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=3, unique=True),
       st.integers(1, 4))
def test_the_grid_is_the_full_product_and_deterministic(steps, guidance, variations):
    recipe = parse_recipe({**BASE, "variations": variations, "sweep": {"steps": steps, "guidance": guidance}})
    jobs = expand(recipe)
    assert len(jobs) == len(steps) * len(guidance) * variations
    assert len({(j.recipe.steps, j.recipe.guidance, j.seed) for j in jobs}) == len(jobs)
    assert [j.recipe for j in expand(recipe)] == [j.recipe for j in jobs]
