"""Shared by the packaging and installer tests: a clean copy of the source tree, and the sdist and wheel
built from it (once per session). Building from a copy keeps build/ and *.egg-info out of the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGED_FOLDERS = ("studio", "resources", "installer")  # with the files at the root: what a build reads
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".DS_Store")


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail the test with its output."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited {result.returncode}\n"
                    f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}")
    return result


def report_field(text: str, label: str) -> str:
    """The value printed beside `label` in the report."""
    for line in text.splitlines():
        if line.startswith(f"  {label} "):
            return line[len(label) + 2:].strip()
    raise AssertionError(f"no {label!r} line in:\n{text}")


@pytest.fixture(scope="session")
def source_tree(tmp_path_factory) -> Path:
    """The checkout as a build sees it: the files at its root (pyproject.toml, MANIFEST.in, README.md, ...) and
    the folders a build reads; not virtual environments, caches or tests that happen to lie beside them."""
    tree = tmp_path_factory.mktemp("source") / "studio"
    tree.mkdir()
    for path in ROOT.iterdir():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, tree / path.name)
    for name in PACKAGED_FOLDERS:
        shutil.copytree(ROOT / name, tree / name, ignore=JUNK)
    return tree


@pytest.fixture(scope="session")
def built_wheel(source_tree, tmp_path_factory) -> Path:
    """The wheel, built from the source tree the way `pip wheel .` does (no build isolation: no downloads)."""
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
         "--wheel-dir", out, source_tree])
    [wheel] = out.glob("studio-*.whl")
    return wheel


@pytest.fixture(scope="session")
def built_sdist(source_tree, tmp_path_factory) -> Path:
    """The sdist, built by the project's build backend (what `python -m build --sdist --no-isolation` does)."""
    out = tmp_path_factory.mktemp("sdist")
    code = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    run([sys.executable, "-c", code, out], cwd=source_tree)
    [sdist] = out.glob("studio-*.tar.gz")
    return sdist
