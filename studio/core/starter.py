"""Studio's own starter models on disk: how a starter folder says what it is, and where the bundled ones live.

A starter folder holds `studio-starter.json` beside its diffusers `unet/` and `scheduler/` folders (the format
is described in studio/train/starter_model.py). Reading it needs no torch, so the window lists starter models
as fast as any other checkpoint. The bundled starters ship in `resources/starter/<name>/`.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.resources import resources_dir

STARTER_FILE = "studio-starter.json"
FORMAT = 1
KIND_UNCONDITIONAL = "starter_unconditional"  # inpainting (known region re-imposed) and SDEdit
KIND_SR = "starter_sr"  # SR3-style super-resolution
# Sweep axes that change nothing on a starter model (it takes no guidance and samples with its own scheduler):
# a batch sweeping them would make the same picture again and again.
IGNORED_SWEEP_AXES = {
    "guidance": "Starter models take no guidance",
    "sampler": "Starter models sample with their own scheduler",
    "clip_skip": "Starter models have no text encoder",
    "lora_weight": "Starter models take no LoRAs",
    "prompt_sr": "Starter models ignore prompts",
}


def read_starter_info(folder: str | Path) -> dict | None:
    """The folder's studio-starter.json, or None when the folder is not a starter model.
    Raises ValueError when the file is there but is not a starter description this version reads."""
    path = Path(folder) / STARTER_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: unreadable ({error})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or info.get("kind") not in (KIND_UNCONDITIONAL, KIND_SR):
        kind = info.get("kind") if isinstance(info, dict) else None
        raise ValueError(f"{path}: not a starter model of format {FORMAT} (kind {kind!r})")
    return info


def bundled_starter_dir() -> Path:
    return resources_dir() / "starter"


def bundled_starters() -> list[Path]:
    """The starter model folders shipped with Studio (none until their weights are committed), sorted."""
    folder = bundled_starter_dir()
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if (path / STARTER_FILE).is_file())
