"""Setuptools hook (pyproject's [tool.setuptools.cmdclass]): a wheel carries `resources/` as `studio/_resources`.

`resources/` stays at the repository root, where a checkout and an editable install read it
(studio.core.resources.resources_dir). A wheel has no repository around it, so building one copies the folder
into the package; resources_dir() falls back to that copy. Editable installs skip the copy: they read the
checkout's folder directly. The sdist carries `resources/` and this file (MANIFEST.in), so a wheel built from
the sdist gets the same copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools.command.build_py import build_py as _build_py

SOURCE = "resources"
TARGET = ("studio", "_resources")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))


class BuildPyWithResources(_build_py):
    """build_py, then copy `resources/` into the built package as `studio/_resources`."""

    def _source(self) -> Path:
        # setuptools runs commands from the project root (the checkout, or the unpacked sdist)
        return Path(os.getcwd()) / SOURCE

    def _target(self) -> Path:
        return Path(self.build_lib, *TARGET)

    def _copies(self) -> bool:
        return not getattr(self, "editable_mode", False)

    def run(self) -> None:
        super().run()
        if not self._copies():
            return
        source = self._source()
        if not (source / "models").is_dir():
            raise RuntimeError(f"cannot build Studio: {source} (with models/, tokenizers/, icons/, theme/) is missing")
        target = self._target()
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=SKIPPED)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if self._copies() and self._source().is_dir():
            source, target = self._source(), self._target()
            outputs += [str(target / path.relative_to(source)) for path in _files(source)]
        return outputs
