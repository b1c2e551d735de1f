"""What a checkpoint on disk is, read from its tensor names and shapes without loading any weights.

Works on the safetensors header alone (no torch), so the window can list a models folder instantly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from safetensors import SafetensorError, safe_open

from studio.core.starter import KIND_SR, STARTER_FILE, read_starter_info

FAMILIES = ("sd15", "sd15_inpaint", "sd2", "sd2_v", "sd2_inpaint", "sdxl", "sdxl_inpaint")
STARTER_FAMILIES = ("starter", "starter_sr")  # Studio's own small models (core/starter.py): no text encoder
SAFE_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
UPSCALER_KEY = "model.diffusion_model.input_blocks.10.0.skip_connection.bias"
# The low-rank "down" matrix of a LoRA layer, in the kohya/A1111, diffusers and peft namings.
LORA_DOWN = ("lora_down.weight", "lora.down.weight", "lora_linear_layer.down.weight", "lora_A.weight")
LORA_UP = ("lora_up.weight", "lora.up.weight", "lora_linear_layer.up.weight", "lora_B.weight")
LORA_CONTEXT_WIDTHS = {768: "sd15", 1024: "sd2", 2048: "sdxl"}  # what cross-attention keys and values read

MADE_FOR_LABELS = {"sd15": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}  # the family a LoRA or an embedding fits
EMBEDDING_WIDTHS = {768: "sd15", 1024: "sd2"}  # a single-encoder embedding's vector width → the family it fits
SDXL_EMBEDDING_KEYS = {"clip_l", "clip_g"}  # one set of vectors per SDXL text encoder

V_PARAMETERIZATION = re.compile(r"""^\s*parameterization:\s*["']?v["']?\s*$""", re.MULTILINE)

Shapes = Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    layout: str  # "diffusers" (a folder), "single_file" (.safetensors) or "pickle" (.ckpt/.pt)
    kind: str  # "pipeline", "controlnet", "upscaler", "lora", "embedding" or "unknown"
    family: str | None = None  # one of FAMILIES for pipelines; for a LoRA, the family it was made for when known
    problem: str | None = None  # why it cannot be used as it is, in one line

    @property
    def starter(self) -> bool:
        """One of Studio's starter models: pixels in, pixels out, prompts ignored."""
        return self.family in STARTER_FAMILIES

    @property
    def base(self) -> str | None:
        if self.family is None or self.starter:
            return None
        return {"sd15": "sd1", "sd2": "sd2", "sdxl": "sdxl"}[self.family.split("_")[0]]

    @property
    def inpaint(self) -> bool:
        return bool(self.family and self.family.endswith("_inpaint"))

    @property
    def name(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name


def read_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape, from the safetensors header only."""
    with safe_open(str(path), framework="np") as handle:
        return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}


def _sd2_is_v_prediction(path: Path, shapes: Shapes) -> bool:
    """SD 2.x tensors do not say whether the model predicts v or ε: ask the sidecar .yaml (AUTOMATIC1111's
    convention), a `v_pred` marker tensor, then the name; else assume the common 768-v models (2.0-v, 2.1)."""
    if "v_pred" in shapes:
        return True
    sidecar = path.with_suffix(".yaml")
    if sidecar.is_file():
        return V_PARAMETERIZATION.search(sidecar.read_text(errors="replace")) is not None
    return "base" not in path.stem.lower()


def is_lora(shapes: Shapes) -> bool:
    """A LoRA's tensors: pairs of low-rank matrices, no full weights of a UNet."""
    return UNET_IN not in shapes and any(key.endswith(LORA_DOWN) for key in shapes)


def lora_family(shapes: Shapes) -> str | None:
    """The family a LoRA was made for, from the width its cross-attention keys read (the text embedding's width);
    None when no key says (a LoRA of the text encoder only, or an unusual model)."""
    if any(key.startswith(("lora_te2_", "text_encoder_2.")) for key in shapes):
        return "sdxl"
    for key, shape in shapes.items():
        if key.endswith(LORA_DOWN) and "attn2" in key and "to_k" in key and len(shape) >= 2:
            return LORA_CONTEXT_WIDTHS.get(shape[1])
    return None


def embedding_family(shapes: Shapes) -> str | None | bool:
    """A textual-inversion embedding's family ("sd15", "sd2", "sdxl", or None when its width names none), or False
    when the tensors are not an embedding: AUTOMATIC1111's `emb_params`, SDXL's `clip_l` + `clip_g`, or diffusers'
    single learned token, each a few vectors."""
    if set(shapes) == SDXL_EMBEDDING_KEYS and all(len(shape) in (1, 2) for shape in shapes.values()):
        return "sdxl"
    if len(shapes) != 1:
        return False
    [(key, shape)] = shapes.items()
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[0] > 256) or (key != "emb_params" and not key.startswith("<")):
        return False
    return EMBEDDING_WIDTHS.get(shape[-1])


def family_from_shapes(path: Path, shapes: Shapes) -> CheckpointInfo:
    """Classify an original-layout (CompVis/LDM) checkpoint by its tensor names and shapes."""
    keys = shapes.keys()

    def has_prefix(prefix: str) -> bool:
        return any(key.startswith(prefix) for key in keys)

    if has_prefix("control_model.") or has_prefix("controlnet_cond_embedding."):
        return CheckpointInfo(path, "single_file", "controlnet")
    if UPSCALER_KEY in shapes:
        return CheckpointInfo(path, "single_file", "upscaler")
    if is_lora(shapes):
        return CheckpointInfo(path, "single_file", "lora", lora_family(shapes))
    family = embedding_family(shapes)
    if family is not False:
        return CheckpointInfo(path, "single_file", "embedding", family)
    if UNET_IN not in shapes:
        return CheckpointInfo(path, "single_file", "unknown", problem="not a Stable Diffusion checkpoint: it has no UNet weights")
    inpaint = shapes[UNET_IN][1] == 9
    suffix = "_inpaint" if inpaint else ""
    if has_prefix("conditioner.embedders.1.model."):
        return CheckpointInfo(path, "single_file", "pipeline", "sdxl" + suffix)
    if has_prefix("conditioner.embedders.0.model."):
        return CheckpointInfo(path, "single_file", "unknown", problem="SDXL refiner checkpoints are not supported; use an SDXL base model")
    if has_prefix("cond_stage_model.model."):
        family = "sd2_inpaint" if inpaint else ("sd2_v" if _sd2_is_v_prediction(path, shapes) else "sd2")
        return CheckpointInfo(path, "single_file", "pipeline", family)
    if has_prefix("cond_stage_model.transformer."):
        return CheckpointInfo(path, "single_file", "pipeline", "sd15" + suffix)
    return CheckpointInfo(path, "single_file", "unknown", problem="a UNet without a known text encoder (SD 1.x, 2.x or SDXL)")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def family_of_folder(path: Path) -> CheckpointInfo:
    """Classify a diffusers folder from its model_index.json and component configs."""
    try:
        if (path / STARTER_FILE).is_file():
            return _starter_folder(path)
        if (path / "model_index.json").is_file():
            index = _read_json(path / "model_index.json")
            name = index.get("_class_name", "")
            if "Upscale" in name:
                return CheckpointInfo(path, "diffusers", "upscaler")
            unet = _read_json(path / "unet" / "config.json")
            suffix = "_inpaint" if unet.get("in_channels") == 9 else ""
            if "text_encoder_2" in index or name.startswith("StableDiffusionXL"):
                return CheckpointInfo(path, "diffusers", "pipeline", "sdxl" + suffix)
            text = _read_json(path / "text_encoder" / "config.json")
            if text.get("hidden_act") == "gelu":  # OpenCLIP-H: SD 2.x
                scheduler = _read_json(path / "scheduler" / "scheduler_config.json")
                v = scheduler.get("prediction_type") == "v_prediction" and not suffix
                return CheckpointInfo(path, "diffusers", "pipeline", "sd2" + ("_v" if v else suffix))
            return CheckpointInfo(path, "diffusers", "pipeline", "sd15" + suffix)
        if (path / "config.json").is_file() and _read_json(path / "config.json").get("_class_name") == "ControlNetModel":
            return CheckpointInfo(path, "diffusers", "controlnet")
    except (OSError, ValueError, KeyError) as error:
        return CheckpointInfo(path, "diffusers", "unknown", problem=f"incomplete diffusers folder: {error}")
    return CheckpointInfo(path, "diffusers", "unknown", problem="not a diffusers pipeline folder (no model_index.json)")


def _starter_folder(path: Path) -> CheckpointInfo:
    """A starter model: the photo model stands in for a base model, the SR model for an upscaler."""
    try:
        info = read_starter_info(path)
    except ValueError as error:
        return CheckpointInfo(path, "diffusers", "unknown", problem=str(error))
    if not (path / "unet" / "config.json").is_file():
        return CheckpointInfo(path, "diffusers", "unknown", problem=f"incomplete starter model: no unet/config.json in {path}")
    if info["kind"] == KIND_SR:
        return CheckpointInfo(path, "diffusers", "upscaler", "starter_sr")
    return CheckpointInfo(path, "diffusers", "pipeline", "starter")


def inspect(path: str | Path) -> CheckpointInfo:
    """What the file or folder at `path` is; problems are reported in the result, never raised."""
    path = Path(path).expanduser()
    if not path.exists():
        return CheckpointInfo(path, "single_file", "unknown", problem=f"no such file or folder: {path}")
    if path.is_dir():
        return family_of_folder(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return CheckpointInfo(
            path, "pickle", "unknown",
            problem="pickle checkpoint: refused by default because unpickling can run code; convert it to .safetensors or allow pickles (loaded weights-only)",
        )
    if suffix not in SAFE_SUFFIXES:
        return CheckpointInfo(path, "single_file", "unknown", problem=f"unsupported file type {suffix or '(none)'}")
    try:
        shapes = read_shapes(path)
    except (SafetensorError, OSError, ValueError) as error:
        return CheckpointInfo(path, "single_file", "unknown", problem=f"damaged or truncated safetensors file ({error})")
    return family_from_shapes(path, shapes)


def _controlnet_dirs(folder: Path) -> set[Path]:
    """Diffusers ControlNet folders (a config.json naming ControlNetModel): one model each, not loose files."""
    found = set()
    for config in folder.rglob("config.json"):
        try:
            if _read_json(config).get("_class_name") == "ControlNetModel":
                found.add(config.parent)
        except (OSError, ValueError):
            continue
    return found


def scan_folder(folder: str | Path) -> list[CheckpointInfo]:
    """Every checkpoint under a models folder (AUTOMATIC1111, ComfyUI, InvokeAI layouts), sorted by path."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return []
    found: list[CheckpointInfo] = []
    pipeline_dirs = sorted({p.parent for p in folder.rglob("model_index.json")} | _controlnet_dirs(folder)
                           | {p.parent for p in folder.rglob(STARTER_FILE)})
    for path in sorted(folder.rglob("*")):
        if any(parent in pipeline_dirs for parent in path.parents):
            continue
        if path.is_file() and path.suffix.lower() in SAFE_SUFFIXES + PICKLE_SUFFIXES:
            found.append(inspect(path))
    found.extend(family_of_folder(d) for d in pipeline_dirs)
    return sorted(found, key=lambda info: str(info.path))


def lora_trigger_words(path: str | Path, most: int = 8) -> list[str]:
    """The words a LoRA was trained with, most frequent first, from the file's metadata when its trainer wrote
    them (kohya's `ss_tag_frequency`, or `modelspec.trigger_phrase`); none when it did not or the file is damaged."""
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError):
        return []
    phrase = metadata.get("modelspec.trigger_phrase", "").strip()
    counts: dict[str, int] = {}
    try:
        for tags in json.loads(metadata.get("ss_tag_frequency") or "{}").values():
            for tag, count in (tags.items() if isinstance(tags, dict) else ()):
                if isinstance(count, (int, float)) and tag.strip():
                    counts[tag.strip()] = counts.get(tag.strip(), 0) + int(count)
    except (ValueError, AttributeError):
        counts = {}
    words = [phrase] if phrase else []
    words += [tag for tag, _ in sorted(counts.items(), key=lambda item: -item[1]) if tag != phrase]
    return words[:most]
