"""Starter model folders are recognised from their studio-starter.json alone (no torch, no weights read), listed
once each in a models folder, and the bundled ones are found under resources/starter."""

import json

import pytest

from studio.core.checkpoints import inspect, scan_folder
from studio.core.starter import KIND_SR, KIND_UNCONDITIONAL, STARTER_FILE, bundled_starters, read_starter_info


def write_starter(folder, kind=KIND_UNCONDITIONAL, **changes):
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text("{}")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not read by the listing")
    info = {"format": 1, "kind": kind, "crop_size": 128, "multiple": 8, "prompts": "ignored", **changes}
    (folder / STARTER_FILE).write_text(json.dumps(info))
    return folder


def test_the_photo_model_stands_in_for_a_base_model_and_the_sr_model_for_an_upscaler(tmp_path):
    photo = inspect(write_starter(tmp_path / "photo"))
    sr = inspect(write_starter(tmp_path / "sr", KIND_SR, scale=4))
    assert (photo.kind, photo.family, photo.starter, photo.problem) == ("pipeline", "starter", True, None)
    assert (sr.kind, sr.family, sr.starter) == ("upscaler", "starter_sr", True)
    assert photo.base is None  # no Stable Diffusion base: its ControlNets do not apply


def test_a_models_folder_lists_each_starter_once_not_its_weight_files(tmp_path):
    write_starter(tmp_path / "models" / "photo")
    write_starter(tmp_path / "models" / "sr", KIND_SR, scale=4)
    found = scan_folder(tmp_path / "models")
    assert [(info.path.name, info.kind) for info in found] == [("photo", "pipeline"), ("sr", "upscaler")]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": 9, "kind": KIND_SR}),
                                     json.dumps({"format": 1, "kind": "something else"}), json.dumps([1, 2])])
def test_a_damaged_or_foreign_description_is_a_problem_not_a_crash(tmp_path, content):
    folder = write_starter(tmp_path / "odd")
    (folder / STARTER_FILE).write_text(content)
    info = inspect(folder)
    assert info.kind == "unknown" and STARTER_FILE in info.problem
    with pytest.raises(ValueError):
        read_starter_info(folder)


def test_a_starter_without_its_unet_is_reported_incomplete(tmp_path):
    folder = write_starter(tmp_path / "photo")
    (folder / "unet" / "config.json").unlink()
    assert "incomplete" in inspect(folder).problem


def test_bundled_starters_are_the_folders_under_resources_starter(tmp_path, monkeypatch):
    resources = tmp_path / "resources"
    write_starter(resources / "starter" / "photo-128")
    (resources / "starter" / "README.md").write_text("not a model")
    (resources / "starter" / "notes").mkdir()
    monkeypatch.setenv("STUDIO_RESOURCES", str(resources))
    assert [path.name for path in bundled_starters()] == ["photo-128"]
    monkeypatch.setenv("STUDIO_RESOURCES", str(tmp_path / "elsewhere"))
    assert bundled_starters() == []
