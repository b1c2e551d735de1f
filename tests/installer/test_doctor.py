"""`studio doctor`: reports what it found, says what is missing and how to fix it, exits 1 only when something
essential is missing, and never shows a traceback."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest

from studio import doctor
from tests.installer.conftest import report_field as field
from tests.fixtures.tiny_embeddings import save_a1111_embedding


@pytest.fixture(autouse=True)
def own_settings_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("STUDIO_RESOURCES", raising=False)
    return tmp_path / "config" / "studio" / "settings.json"


def diagnose() -> tuple[int, str]:
    out = io.StringIO()
    code = doctor.run_doctor(out)
    return code, out.getvalue()


def test_a_complete_environment_is_ready(own_settings_folder):
    import torch

    code, text = diagnose()
    assert code == 0, text
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in text and sys.executable in text
    assert field(text, "torch").startswith(f"{torch.__version__} (")
    assert field(text, "Device").startswith("cpu")  # the test suite sets STUDIO_DEVICE=cpu
    assert field(text, "torchvision") and field(text, "diffusers") and field(text, "PySide6")
    assert "CLIP tokenizer: found" in text and "sd15_inpaint" in text
    assert "(repository checkout)" in text
    assert str(own_settings_folder) in text and "not written yet" in text
    assert field(text, "Model folders") == "none configured"
    assert field(text, "Plugins").startswith("API version") and "sampler: " in text
    assert "no usable checkpoint found yet" in text  # a note, with how to fix it
    assert "Studio is ready." in text


def test_model_folders_from_the_settings_are_scanned(own_settings_folder, tiny_model, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_model("sd1_inpaint"), models / "tiny.safetensors")
    save_a1111_embedding(models / "embeddings" / "easynegative.safetensors", width=768)
    own_settings_folder.parent.mkdir(parents=True)
    own_settings_folder.write_text(json.dumps({"model_folders": [str(models), str(tmp_path / "unplugged")],
                                               "model_files": [str(tmp_path / "gone.safetensors")]}))
    code, text = diagnose()
    assert code == 0, text
    assert f"{models}: 2 checkpoints (embedding sd15: 1, sd15_inpaint: 1)" in text
    assert f"{tmp_path / 'unplugged'}: not found" in text
    assert "1 no longer on disk" in text
    assert "no usable checkpoint" not in text


def test_a_damaged_settings_file_is_reported_and_left_alone(own_settings_folder):
    own_settings_folder.parent.mkdir(parents=True)
    own_settings_folder.write_text("{not json")
    code, text = diagnose()
    assert code == 0 and "the settings file cannot be read" in text
    assert own_settings_folder.read_text() == "{not json", "the doctor only reads"


def test_missing_resources_are_essential(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RESOURCES", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    code, text = diagnose()
    assert code == 1
    assert "[essential] no model configs under" in text and "CLIP tokenizer files are missing" in text
    assert "unset STUDIO_RESOURCES" in text and "Studio cannot run" in text


def test_missing_torch_is_essential_and_says_how_to_fix_it(monkeypatch):
    real = doctor._import
    monkeypatch.setattr(doctor, "_import", lambda name: (None, "ModuleNotFoundError: No module named 'torch'")
                        if name == "torch" else real(name))
    code, text = diagnose()
    assert code == 1
    assert field(text, "torch").startswith("missing (ModuleNotFoundError")
    assert "[essential] torch is not installed" in text and "--update" in text


def test_a_failing_check_becomes_a_finding_not_a_traceback(monkeypatch):
    def broken(report):
        raise RuntimeError("boom")

    checks = tuple((name, broken if name == "plugins" else check) for name, check in doctor.CHECKS)
    monkeypatch.setattr(doctor, "CHECKS", checks)
    code, text = diagnose()
    assert code == 1 and "the plugins check failed: RuntimeError: boom" in text
    assert "Traceback" not in text


def test_it_runs_as_a_module_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "studio.doctor"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Studio doctor" in result.stdout and "Traceback" not in result.stderr


def test_studio_doctor_on_the_command_line(capsys):
    from studio import cli

    assert cli.main(["doctor"]) == 0
    assert "Studio is ready" in capsys.readouterr().out


def test_a_broken_plugin_is_a_note_with_how_to_remove_it(monkeypatch):
    import studio.plugins
    from studio.plugins.registry import PluginInfo

    broken = PluginInfo(name="warp", kind="sampler", origin="user", distribution="studio-warp",
                        distribution_version="0.3", problem="ImportError: no module named warp_core")
    real = studio.plugins.list_plugins
    monkeypatch.setattr(studio.plugins, "list_plugins", lambda kind=None: [*real(kind), broken])
    code, text = diagnose()
    assert code == 0
    assert "sampler warp 0.3 (user): unavailable: ImportError" in text
    assert "[note]      the sampler plugin 'warp' cannot be used" in text and "studio plugins remove warp" in text


def test_gpus_are_listed_with_their_free_memory_and_too_little_is_a_note():
    from types import SimpleNamespace

    gib = 1024**3
    memory = {0: (20 * gib, 24 * gib), 1: (1 * gib, 8 * gib)}
    cuda = SimpleNamespace(is_available=lambda: True, device_count=lambda: 2,
                           get_device_name=lambda i: ["RTX 4090", "RTX 3070"][i], mem_get_info=lambda i: memory[i])
    fake_torch = SimpleNamespace(cuda=cuda, version=SimpleNamespace(cuda="12.4", hip=None))
    report = doctor.Report()
    doctor._gpu_lines(fake_torch, report)
    assert report.lines == ["  GPU             cuda:0 RTX 4090 (CUDA): 20.0 GiB free of 24.0 GiB",
                            "                  cuda:1 RTX 3070 (CUDA): 1.0 GiB free of 8.0 GiB"]
    [note] = report.problems
    assert not note.essential and note.what.startswith("cuda:1 has only 1.0 GiB free")


def test_bundled_starter_models_are_named_with_what_they_do(tiny_model, tmp_path, monkeypatch):
    from tests.fixtures.tiny_starter import resources_without_starters

    resources = resources_without_starters(tmp_path / "resources")
    monkeypatch.setenv("STUDIO_RESOURCES", str(resources))
    assert "starter models: none shipped" in doctor.render(doctor.diagnose())
    shutil.copytree(tiny_model("starter_photo"), resources / "starter" / "photo-128")
    shutil.copytree(tiny_model("starter_sr"), resources / "starter" / "sr-x4")
    assert "starter models: photo-128 (inpaint, SDEdit), sr-x4 (×4 upscale)" in doctor.render(doctor.diagnose())
