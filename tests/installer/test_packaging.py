"""The wheel and the sdist carry resources/ (configs, tokenizer, icons, theme), and an installed, non-editable
copy of Studio finds them without a checkout around it."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tests.installer.conftest import ROOT, run

RESOURCES = ROOT / "resources"


def resource_files() -> set[str]:
    """resources/ as paths relative to it, the way a package carries them."""
    return {p.relative_to(RESOURCES).as_posix() for p in RESOURCES.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def packaged(names: list[str], prefix: str) -> set[str]:
    return {name[len(prefix):] for name in names if name.startswith(prefix) and not name.endswith("/")}


def test_the_repository_has_the_resources_the_packages_must_carry():
    files = resource_files()
    assert {"tokenizers/clip/vocab.json", "tokenizers/clip/merges.txt", "icons/studio.svg"} <= files
    assert any(f.startswith("models/") and f.endswith("/model_index.json") for f in files)
    assert any(f.startswith("theme/") for f in files)


def test_the_wheel_carries_every_resource_inside_the_package(built_wheel):
    names = zipfile.ZipFile(built_wheel).namelist()
    assert packaged(names, "studio/_resources/") == resource_files()
    assert "studio/cli.py" in names and "studio/core/resources.py" in names
    assert not [n for n in names if n.startswith(("tests/", "installer/", "resources/"))], "only the package"
    entry_points = zipfile.ZipFile(built_wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"studio = studio.cli:main" in entry_points


def test_the_sdist_carries_resources_and_the_build_hook(built_sdist):
    with tarfile.open(built_sdist) as sdist:
        names = [member.name for member in sdist.getmembers() if member.isfile()]
    top = names[0].split("/")[0]
    assert packaged(names, f"{top}/resources/") == resource_files()
    for needed in ("pyproject.toml", "MANIFEST.in", "README.md", "installer/build_hooks.py", "studio/cli.py"):
        assert f"{top}/{needed}" in names, needed


def test_a_wheel_built_from_the_sdist_still_carries_the_resources(built_sdist, tmp_path):
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
         "--wheel-dir", tmp_path, built_sdist])
    [wheel] = tmp_path.glob("studio-*.whl")
    assert packaged(zipfile.ZipFile(wheel).namelist(), "studio/_resources/") == resource_files()


def test_an_installed_wheel_finds_its_own_resources(built_wheel, tmp_path):
    target = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--disable-pip-version-check",
         "--target", target, built_wheel])
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import studio; from studio.core import resources as r; "
        "vocab, merges = r.clip_tokenizer_files(); "
        "print(studio.__file__); print(r.resources_dir()); print(','.join(r.known_families())); "
        "print(vocab.is_file() and merges.is_file()); print(r.family_config_dir('sd15_inpaint').is_dir())"
    )
    env = {k: v for k, v in os.environ.items() if k != "STUDIO_RESOURCES"}
    result = subprocess.run([sys.executable, "-I", "-c", code, str(target)], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    module, folder, families, tokenizer, config = result.stdout.splitlines()
    assert Path(module).is_relative_to(target), "imported the installed copy, not the checkout"
    assert Path(folder) == target / "studio" / "_resources"
    assert "sd15_inpaint" in families.split(",") and "sdxl" in families.split(",")
    assert tokenizer == "True" and config == "True"


def test_a_checkout_still_uses_its_own_resources_folder():
    from studio.core.resources import packaged_resources_dir, resources_dir

    assert resources_dir() == RESOURCES
    assert not packaged_resources_dir().exists(), "studio/_resources is made only inside built wheels"
