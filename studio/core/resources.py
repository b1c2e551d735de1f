"""Where the files shipped in the repository's `resources/` folder are: per-family pipeline configs and the CLIP tokenizer.

Pure Python (no torch, no Qt): the engine asks here for paths, then loads them itself.
Set STUDIO_RESOURCES to use a `resources/` folder elsewhere (an installed copy, a test fixture).
An installed wheel carries a copy of `resources/` inside the package, as `studio/_resources`
(installer/build_hooks.py puts it there); it is used when there is no repository checkout around the code.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "STUDIO_RESOURCES"
PACKAGED_NAME = "_resources"  # the copy inside an installed package: studio/_resources


def repository_resources_dir() -> Path:
    """`resources/` at the root of the checkout this code runs from (absent in an installed wheel)."""
    return Path(__file__).resolve().parents[2] / "resources"


def packaged_resources_dir() -> Path:
    """The copy of `resources/` a wheel installs inside the package (absent in a checkout)."""
    return Path(__file__).resolve().parents[1] / PACKAGED_NAME


def resources_dir() -> Path:
    """The `resources/` folder: $STUDIO_RESOURCES when set, else the one at the repository root, else the
    copy installed with the package."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    repository = repository_resources_dir()
    if not repository.is_dir():
        packaged = packaged_resources_dir()
        if packaged.is_dir():
            return packaged
    return repository


def known_families() -> tuple[str, ...]:
    """The families that have a bundled pipeline folder (one holding a model_index.json), sorted."""
    models = resources_dir() / "models"
    if not models.is_dir():
        return ()
    return tuple(sorted(p.name for p in models.iterdir() if (p / "model_index.json").is_file()))


def family_config_dir(family: str) -> Path:
    """The bundled diffusers pipeline folder (configs only, no weights, no tokenizer) of `family`."""
    known = known_families()
    if family not in known:
        listed = ", ".join(known) if known else f"none found under {resources_dir() / 'models'}"
        raise ValueError(f"unknown model family {family!r}; known families: {listed}")
    return resources_dir() / "models" / family


def clip_tokenizer_files() -> tuple[Path, Path]:
    """The CLIP BPE tokenizer files shared by SD 1.x, SD 2.x and SDXL: (vocab.json, merges.txt)."""
    folder = resources_dir() / "tokenizers" / "clip"
    return folder / "vocab.json", folder / "merges.txt"
