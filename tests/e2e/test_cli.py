"""`studio` on the command line: headless runs, reproduction from an exported PNG, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.core.metadata import read_metadata, read_parameters
from tests.fixtures.pictures import write_mask, write_picture


def studio(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "studio.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def recipe_file(tmp_path, tiny_model):
    write_picture(tmp_path / "photo.png", 70, 50)
    write_mask(tmp_path / "mask.png", 70, 50, (10, 10, 40, 30))
    recipe = {"task": "inpaint", "model": str(tiny_model("sd1_inpaint")), "image": "photo.png", "mask": "mask.png",
              "prompt": "a cat", "negative_prompt": "dog", "steps": 3, "seed": 9, "sampler": "dpmpp_2m",
              "width": 64, "height": 64, "variations": 2, "inpaint_area": "masked"}
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    return path


def test_run_writes_one_png_per_variation_with_metadata(recipe_file, tmp_path, capsys):
    assert main(["run", str(recipe_file), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    written = sorted((tmp_path / "out").glob("inpaint-*.png"))
    assert [p.name for p in written] == ["inpaint-000-seed9.png", "inpaint-001-seed10.png"]
    meta = read_metadata(written[1])
    assert meta.recipe.seed == 10 and meta.recipe.variations == 1 and meta.recipe.prompt == "a cat"
    assert set(meta.hashes) == {"image", "mask", "model"}
    assert "Seed: 10" in read_parameters(written[1]) and "Sampler: DPM++ 2M" in read_parameters(written[1])
    assert capsys.readouterr().out.count(".png") == 2


def test_a_png_studio_exported_reproduces_itself(recipe_file, tmp_path):
    main(["run", str(recipe_file), "--out", str(tmp_path / "first"), "--quiet"])
    exported = tmp_path / "first" / "inpaint-001-seed10.png"
    assert main(["run", str(exported), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    [again] = (tmp_path / "again").glob("inpaint-*.png")
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(exported)))


def test_reproducing_with_changed_inputs_is_refused(recipe_file, tmp_path, capsys):
    main(["run", str(recipe_file), "--out", str(tmp_path / "first"), "--quiet"])
    write_picture(tmp_path / "photo.png", 70, 50, seed=99)  # the picture changed on disk since
    code = main(["run", str(tmp_path / "first" / "inpaint-000-seed9.png"), "--out", str(tmp_path / "again")])
    assert code == 2
    assert "image on disk is not the one this picture was made from" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, message",
    [
        ({"steps": 0}, "recipe field 'steps': must be between 1 and 1000, got 0"),
        ({"sampler": "warp_drive"}, "unknown sampler 'warp_drive'"),
        ({"image": "missing.png"}, "picture not found"),
        ({"model": "nowhere.safetensors"}, "no such file or folder"),
        ({"colour": "red"}, "recipe field 'colour': unknown field"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(recipe_file, tmp_path, change, message):
    recipe = {**json.loads(recipe_file.read_text()), **change}
    recipe_file.write_text(json.dumps(recipe))
    result = studio("run", recipe_file, "--out", tmp_path / "out")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("studio: error: ") and message in lines[-1]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.png"))


def test_a_png_without_studio_metadata_is_a_clear_error(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    assert main(["run", str(tmp_path / "plain.png"), "--out", str(tmp_path)]) == 2
    assert "has no Studio recipe" in capsys.readouterr().err


def test_models_lists_a_folder_with_families(tiny_model, tmp_path, capsys):
    import shutil

    shutil.copy(tiny_model("sdxl_inpaint"), tmp_path / "xl-inpaint.safetensors")
    shutil.copy(tiny_model("sd1"), tmp_path / "dream.safetensors")
    (tmp_path / "old.ckpt").write_bytes(b"x")
    assert main(["models", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dream.safetensors\tsd15\tsingle_file" in out
    assert "xl-inpaint.safetensors\tsdxl_inpaint" in out
    assert "old.ckpt" in out and "refused by default" in out


def test_version():
    result = studio("--version")
    assert result.returncode == 0 and result.stdout.startswith("studio ")


def test_prompt_lora_tags_name_files_beside_the_recipe_or_in_given_folders(recipe_file, tmp_path, capsys):
    from tests.fixtures.tiny_loras import save_diffusers_lora

    save_diffusers_lora("sd1", tmp_path / "ink.safetensors")
    save_diffusers_lora("sd1", tmp_path / "more" / "deep" / "rain.safetensors", seed=2)
    recipe = {**json.loads(recipe_file.read_text()), "variations": 1, "steps": 2,
              "prompt": "a cat <lora:ink:0.8> <lora:rain:-0.5>"}
    recipe_file.write_text(json.dumps(recipe))
    assert main(["run", str(recipe_file), "--out", str(tmp_path / "first"), "--quiet"]) == 2
    assert "no LoRA named 'rain' (the LoRAs Studio knows are ink)" in capsys.readouterr().err
    assert main(["run", str(recipe_file), "--out", str(tmp_path / "first"), "--quiet", "--models", str(tmp_path / "more")]) == 0
    [exported] = (tmp_path / "first").glob("inpaint-*.png")
    made = read_metadata(exported).recipe
    assert made.prompt == "a cat" and [(lora.name, lora.weight) for lora in made.loras] == [("ink", 0.8), ("rain", -0.5)]
    assert "a cat <lora:ink:0.8> <lora:rain:-0.5>" in read_parameters(exported)


def test_embeddings_named_in_the_prompts_are_found_recorded_and_reproduced(recipe_file, tmp_path, capsys):
    from tests.fixtures.tiny_embeddings import save_a1111_embedding

    save_a1111_embedding(tmp_path / "more" / "BadHands.safetensors", 2, seed=4)
    recipe = {**json.loads(recipe_file.read_text()), "variations": 1, "steps": 2, "negative_prompt": "badhands, dog"}
    recipe_file.write_text(json.dumps(recipe))
    assert main(["run", str(recipe_file), "--out", str(tmp_path / "plain"), "--quiet"]) == 0
    assert main(["run", str(recipe_file), "--out", str(tmp_path / "first"), "--quiet", "--models", str(tmp_path / "more")]) == 0
    [plain], [exported] = (tmp_path / "plain").glob("inpaint-*.png"), (tmp_path / "first").glob("inpaint-*.png")
    made = read_metadata(exported).recipe
    assert [e.path for e in made.embeddings] == [str(tmp_path / "more" / "BadHands.safetensors")]
    assert made.negative_prompt == "badhands, dog" and 'TI hashes: "BadHands: ' in read_parameters(exported)
    assert not np.array_equal(np.asarray(Image.open(plain)), np.asarray(Image.open(exported)))
    assert main(["run", str(exported), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    [again] = (tmp_path / "again").glob("inpaint-*.png")
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(exported)))
    save_a1111_embedding(tmp_path / "more" / "BadHands.safetensors", 2, seed=5)  # retrained since
    assert main(["run", str(exported), "--out", str(tmp_path / "third")]) == 2
    assert "the embedding 1 on disk is not the one this picture was made from" in capsys.readouterr().err
    assert main(["models", str(tmp_path / "more")]) == 0
    assert "BadHands.safetensors\tembedding\tsingle_file" in capsys.readouterr().out


def test_models_lists_loras_as_loras(tmp_path, capsys):
    from tests.fixtures.tiny_loras import save_diffusers_lora

    save_diffusers_lora("sd1", tmp_path / "ink.safetensors")
    assert main(["models", str(tmp_path)]) == 0
    assert f"{tmp_path / 'ink.safetensors'}\tlora\tsingle_file" in capsys.readouterr().out


def test_a_recipe_with_a_lora_runs_reproduces_and_checks_the_lora(recipe_file, tmp_path, capsys):
    from tests.fixtures.tiny_loras import save_diffusers_lora

    save_diffusers_lora("sd1", tmp_path / "styles" / "ink.safetensors")
    recipe = {**json.loads(recipe_file.read_text()), "variations": 1, "steps": 2,
              "loras": [{"path": "styles/ink.safetensors", "weight": 0.8}]}  # relative to the recipe file
    recipe_file.write_text(json.dumps(recipe))
    assert main(["run", str(recipe_file), "--out", str(tmp_path / "first"), "--quiet"]) == 0
    [exported] = (tmp_path / "first").glob("inpaint-*.png")
    assert read_metadata(exported).recipe.loras[0].path == str(tmp_path / "styles" / "ink.safetensors")
    assert "<lora:ink:0.8>" in read_parameters(exported)
    assert main(["run", str(exported), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    [again] = (tmp_path / "again").glob("inpaint-*.png")
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(exported)))
    save_diffusers_lora("sd1", tmp_path / "styles" / "ink.safetensors", seed=5)  # retrained since
    assert main(["run", str(exported), "--out", str(tmp_path / "third")]) == 2
    assert "the LoRA 1 on disk is not the one this picture was made from" in capsys.readouterr().err
