"""AUTOMATIC1111's `parameters` text read back into panel values, as A1111's own "PNG Info" splits it; what Studio
has no equal for becomes a note, never a guess."""

import pytest

from studio.core.a1111_params import SamplerName, parse_parameters, split_parameters
from studio.core.metadata import ResultMetadata, a1111_parameters
from studio.core.recipe import parse_recipe

SAMPLERS = [SamplerName("euler", "Euler", True), SamplerName("euler_a", "Euler a"),
            SamplerName("dpmpp_2m", "DPM++ 2M", True), SamplerName("dpmpp_2m_karras", "DPM++ 2M Karras", True),
            SamplerName("ddim", "DDIM")]

CIVITAI = """masterpiece, a lighthouse at dusk, (oil painting:1.2) <lora:ink:0.7>
BREAK stormy sea
Negative prompt: blurry, lowres,
bad hands
Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234567890, Size: 512x768, Model hash: 6ce0161689, \
Model: dreamshaper_8, Denoising strength: 0.45, Clip skip: 2, Lora hashes: "ink: 0123456789ab, rain: ba9876543210", \
Version: v1.9.4"""


def test_a_civitai_text_gives_prompt_negative_and_settings():
    found = parse_parameters(CIVITAI, SAMPLERS)
    assert found.values == {
        "prompt": "masterpiece, a lighthouse at dusk, (oil painting:1.2) <lora:ink:0.7>\nBREAK stormy sea",
        "negative_prompt": "blurry, lowres,\nbad hands", "seed_locked": True, "steps": 28, "guidance": 6.5,
        "seed": 1234567890, "strength": 0.45, "clip_skip": 2, "sampler": "dpmpp_2m_karras", "sampler_params": {}}
    assert found.model_name == "dreamshaper_8" and found.notes == []


def test_quoted_values_keep_their_commas():
    assert split_parameters(CIVITAI)[2]["Lora hashes"] == "ink: 0123456789ab, rain: ba9876543210"


@pytest.mark.parametrize("sampler, schedule, expected, params", [
    ("Euler a", "", "euler_a", {}),
    ("DPM++ 2M", "Karras", "dpmpp_2m_karras", {}),  # A1111 1.9 writes the schedule apart
    ("Euler", "Karras", "euler", {"karras": True}),
    ("euler", "Automatic", "euler", {}),
])
def test_sampler_names_and_schedules_map_to_studios(sampler, schedule, expected, params):
    text = f"a cat\nSteps: 20, Sampler: {sampler}, " + (f"Schedule type: {schedule}, " if schedule else "") + "Seed: 1"
    found = parse_parameters(text, SAMPLERS)
    assert (found.values["sampler"], found.values["sampler_params"], found.notes) == (expected, params, [])


def test_what_studio_lacks_is_noted_and_the_rest_still_read():
    text = ("a cat\nSteps: 20, Sampler: DPM2 a Karras, CFG scale: 7, Seed: 5, Refiner: sdxl_refiner, "
            "Masked content: latent noise, DDIM Karras: x, Clip skip: 40")
    found = parse_parameters(text, SAMPLERS)
    assert "sampler" not in found.values and found.values["seed"] == 5 and "clip_skip" not in found.values
    assert found.notes == ["Clip skip 40 is out of Studio's range (1 to 12)",
                           "masked content 'latent noise' has no equal in Studio (original and fill do)",
                           "sampler 'DPM2 a Karras' is not one Studio has; the sampler shown is kept",
                           "the SDXL refiner not carried over: Studio has no equal"]
    assert parse_parameters("a cat\nSteps: 20, Sampler: DDIM, Schedule type: Karras, Seed: 1", SAMPLERS).notes == [
        "DDIM has no Karras schedule in Studio; it runs with its own"]


@pytest.mark.parametrize("text", ["", "   ", "just a prompt, with commas", "a cat\nNegative prompt: dog", None, 42])
def test_text_without_a_settings_line_is_none(text):
    assert parse_parameters(text, SAMPLERS) is None


def test_a_bad_number_is_noted_not_raised():
    found = parse_parameters("x\nSteps: many, Seed: -3, CFG scale: nan, Sampler: Euler", SAMPLERS)
    assert set(found.values) == {"prompt", "negative_prompt", "seed_locked", "sampler", "sampler_params"}
    assert len(found.notes) == 3


def test_studios_own_text_reads_back_to_its_recipe():
    recipe = parse_recipe({"task": "inpaint", "model": "/m/dream.safetensors", "image": "p.png", "mask": "m.png",
                           "prompt": "a cat,\nsitting", "negative_prompt": "dog", "steps": 31, "guidance": 5.5,
                           "seed": 77, "sampler": "dpmpp_2m_karras", "strength": 0.8, "clip_skip": 2,
                           "mask_feather": 6, "inpaint_area": "masked", "mask_padding": 40, "masked_content": "fill"})
    text = a1111_parameters(ResultMetadata(recipe, run={"sampler_label": "DPM++ 2M Karras"}), (512, 512))
    found = parse_parameters(text, SAMPLERS)
    for name in ("prompt", "negative_prompt", "steps", "guidance", "seed", "sampler", "strength", "clip_skip",
                 "mask_feather", "inpaint_area", "mask_padding", "masked_content"):
        assert found.values[name] == getattr(recipe, name), name
    assert found.model_name == "dream" and found.notes == []


def test_a_hires_fix_is_read_with_its_strength_from_the_denoising_strength():
    text = ("a castle\nSteps: 20, Sampler: Euler, Seed: 5, Denoising strength: 0.45, Hires upscale: 1.5, "
            "Hires steps: 10, Hires upscaler: Latent")
    found = parse_parameters(text, SAMPLERS)
    assert found.values["hires"] == {"use": True, "factor": 1.5, "strength": 0.45, "steps": 10}
    assert "strength" not in found.values, "A1111's denoising strength belongs to the hires fix here"
    assert found.notes == ["hires upscaler 'Latent' has no equal in Studio; its hires fix enlarges with Lanczos"]
    plain = parse_parameters("a castle\nSteps: 20, Seed: 5, Hires upscale: 2, Hires upscaler: Lanczos", SAMPLERS)
    assert plain.values["hires"] == {"use": True, "factor": 2.0, "strength": 0.7, "steps": 0} and plain.notes == []
    wild = parse_parameters("a castle\nSteps: 20, Seed: 5, Hires upscale: 9", SAMPLERS)
    assert "hires" not in wild.values and wild.notes == ["Hires upscale 9 is out of Studio's range (1 to 4)"]
