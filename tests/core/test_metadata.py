import numpy as np
import pytest
from PIL import Image

from studio.core.errors import RecipeError
from studio.core.metadata import ResultMetadata, read_metadata, read_parameters, write_png
from studio.core.recipe import parse_recipe

RECIPE = parse_recipe(
    {"task": "inpaint", "model": "/models/dream.safetensors", "image": "/p/a.png", "mask": "/p/m.png",
     "prompt": "a red door", "negative_prompt": "blurry", "steps": 20, "guidance": 6.5, "seed": 42,
     "sampler": "euler_a", "strength": 0.8, "mask_feather": 4, "inpaint_area": "masked"}
)
META = ResultMetadata(RECIPE, {"image": "ab" * 32, "mask": "cd" * 32, "model": "0123456789abcdef"},
                      {"studio_version": "0.1.0", "sampler_label": "Euler a", "device": "cpu"})


def test_png_round_trips_recipe_hashes_and_run_info(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 255, (24, 40, 3), dtype=np.uint8)
    path = write_png(tmp_path / "out" / "r.png", pixels, META)
    back = read_metadata(path)
    assert back.recipe == RECIPE and back.hashes == META.hashes and back.run == META.run
    assert np.array_equal(np.asarray(Image.open(path)), pixels)
    assert not list((tmp_path / "out").glob("*.part"))


def test_parameters_text_reads_like_automatic1111(tmp_path):
    path = write_png(tmp_path / "r.png", np.zeros((8, 16, 3), np.uint8), META)
    text = read_parameters(path)
    prompt, negative, settings = text.split("\n")
    assert prompt == "a red door" and negative == "Negative prompt: blurry"
    assert settings.startswith("Steps: 20, Sampler: Euler a, CFG scale: 6.5, Seed: 42, Size: 16x8, Model hash: 0123456789, Model: dream")
    assert "Denoising strength: 0.8" in settings and "Inpaint area: Only masked" in settings
    assert "Masked content: original" in settings


def test_a_foreign_png_has_no_metadata(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    assert read_metadata(tmp_path / "plain.png") is None


def test_bad_metadata_is_a_clear_error():
    with pytest.raises(RecipeError, match="not valid JSON"):
        ResultMetadata.from_json("{")
    with pytest.raises(RecipeError, match="holds no recipe"):
        ResultMetadata.from_json("{}")


@pytest.mark.parametrize("kind", ["jpeg", "webp"])
def test_jpeg_and_webp_carry_the_same_metadata_in_exif(tmp_path, kind):
    from studio.core.metadata import write_picture

    pixels = np.random.default_rng(2).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    path = write_picture(tmp_path / f"r.{kind}", pixels, META, kind)
    back = read_metadata(path)
    assert back.recipe == RECIPE and back.hashes == META.hashes
    assert read_parameters(path).startswith("a red door\nNegative prompt: blurry\nSteps: 20")
    with Image.open(path) as image:
        assert image.format == kind.upper() and image.size == (24, 16)


def test_loras_are_written_as_automatic1111_writes_them(tmp_path):
    recipe = RECIPE.replace(loras=[{"path": "/l/ink, v2.safetensors", "weight": 0.8}, {"path": "/l/rain.safetensors", "weight": -1}])
    hashes = {**META.hashes, "lora0": "aa" * 32, "lora1": "bb" * 32}
    path = write_png(tmp_path / "r.png", np.zeros((8, 8, 3), np.uint8), ResultMetadata(recipe, hashes, META.run))
    prompt, _, settings = read_parameters(path).split("\n")
    assert prompt == "a red door <lora:ink v2:0.8> <lora:rain:-1>"
    assert f'Lora hashes: "ink v2: {"aa" * 6}, rain: {"bb" * 6}", Version: Studio 0.1.0' in settings
    assert read_metadata(path).recipe.loras == recipe.loras
    assert "Lora hashes" not in read_parameters(write_png(tmp_path / "plain.png", np.zeros((8, 8, 3), np.uint8), META))


def test_a_hires_fix_is_written_as_automatic1111_writes_it_and_read_back(tmp_path):
    from studio.core.a1111_params import parse_parameters

    hires = ResultMetadata(RECIPE.replace(strength=1.0, hires={"factor": 2, "strength": 0.45, "steps": 12}),
                           META.hashes, META.run)
    path = write_png(tmp_path / "r.png", np.zeros((16, 32, 3), np.uint8), hires)
    settings = read_parameters(path).split("\n")[2]
    assert "Denoising strength: 0.45, " in settings
    assert "Hires upscale: 2, Hires steps: 12, Hires upscaler: Lanczos" in settings
    assert parse_parameters(read_parameters(path)).values["hires"] == {"use": True, "factor": 2.0, "strength": 0.45,
                                                                     "steps": 12}
    assert read_metadata(path).recipe.hires.steps == 12
    without_steps = ResultMetadata(RECIPE.replace(hires={"factor": 2}), META.hashes, META.run)
    assert "Hires steps" not in read_parameters(write_png(tmp_path / "s.png", np.zeros((8, 8, 3), np.uint8), without_steps))


def test_tiling_is_written_and_read_as_automatic1111_does(tmp_path):
    from studio.core.a1111_params import parse_parameters

    tiled = ResultMetadata(RECIPE.replace(inpaint_area="whole", tiling=True), META.hashes, META.run)
    text = read_parameters(write_png(tmp_path / "t.png", np.zeros((8, 8, 3), np.uint8), tiled))
    assert "Tiling: True" in text and parse_parameters(text).values["tiling"] is True
    assert "Tiling" not in read_parameters(write_png(tmp_path / "p.png", np.zeros((8, 8, 3), np.uint8), META))
