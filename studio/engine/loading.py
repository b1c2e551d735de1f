"""Loading a Stable Diffusion model from disk, fully offline, into diffusers components.

Two layouts: a diffusers folder, or one original-layout checkpoint file whose family is detected from its
tensors; the configs and tokenizer files such a file lacks come from resources/. Pickle checkpoints are
refused unless the caller consents, and are then read weights-only, so no code in them can run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    convert_open_clip_checkpoint,
)
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from studio.core import checkpoints
from studio.core.checkpoints import CheckpointInfo
from studio.core.errors import ModelError
from studio.core.resources import clip_tokenizer_files, resources_dir
from studio.engine import ldm_config


@dataclass
class LoadedModel:
    """A base model's components, shared by every task that runs on it."""

    info: CheckpointInfo
    components: dict[str, Any]
    scheduler_config: dict
    dtype: torch.dtype
    device: torch.device
    memory_policy: str = "gpu"  # see engine/memory.py
    extra: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.info.family or ""

    @property
    def starter(self):
        """The train.starter_model.StarterModel when this is one of Studio's starter models, else None."""
        return self.extra.get("starter")

    @property
    def native_size(self) -> int:
        """The picture side the model was trained at (512 for SD 1.x, 1024 for SDXL, 128 for the starters)."""
        if self.starter is not None:
            return self.starter.native_size
        unet = self.components["unet"]
        return int(unet.config.sample_size) * (2 ** (len(self.components["vae"].config.block_out_channels) - 1))


def _tokenizer(variant: str) -> CLIPTokenizer:
    """The bundled CLIP BPE tokenizer with the variant's special tokens (they differ in the padding token)."""
    spec = json.loads((resources_dir() / "tokenizers" / "tokenizers.json").read_text())
    vocab, _ = clip_tokenizer_files()
    return CLIPTokenizer.from_pretrained(str(vocab.parent), local_files_only=True, **spec["variants"][variant])


def _instantiate(cls, config, state: dict, what: str):
    """Build a module without allocating random weights, then adopt the checkpoint's tensors."""
    with init_empty_weights():
        module = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
    if isinstance(module, CLIPTextModel) and not hasattr(module, "text_model"):
        # transformers >= 5.6 flattened CLIPTextModel; the converted keys still carry the old wrapper
        state = {k.removeprefix("text_model."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    result = module.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {result.unexpected_keys[:3]}"
        raise ModelError(f"the checkpoint's {what} does not match its detected architecture ({detail})")
    return module


def _read_state(info: CheckpointInfo, allow_pickle: bool) -> dict[str, torch.Tensor]:
    if info.layout == "pickle":
        if not allow_pickle:
            raise ModelError(info.problem or "pickle checkpoints are refused")
        return _read_pickle_weights_only(info.path)
    try:
        return load_file(str(info.path))
    except (SafetensorError, OSError) as error:
        raise ModelError(f"cannot read {info.path.name}: damaged or truncated ({error})") from None


def _read_pickle_weights_only(path: Path) -> dict[str, torch.Tensor]:
    """torch.load with weights_only: only tensors and plain containers are rebuilt, never arbitrary objects."""
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError… for unsafe or bad files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"{path.name} was refused: it holds something other than plain weights ({first_line})") from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelError(f"{path.name} does not hold a state dict of tensors")
    return data


def _family_of_pickle(path: Path, state: dict[str, torch.Tensor]) -> CheckpointInfo:
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    found = checkpoints.family_from_shapes(path, shapes)
    return CheckpointInfo(path, "pickle", found.kind, found.family, found.problem)


def _text_encoders(family: str, state: dict, shapes: dict) -> dict[str, Any]:
    base = ldm_config.base_of(family)
    encoders = {}
    for component, (prefix, layout) in ldm_config.TEXT_ENCODERS[base].items():
        config = CLIPTextConfig(**ldm_config.text_encoder_config(family, component, shapes))
        cls = CLIPTextModelWithProjection if component == "text_encoder_2" else CLIPTextModel
        if layout == "clip":
            weights = convert_ldm_clip_checkpoint(state, remove_prefix=prefix.removesuffix("text_model."))
        else:
            if base == "sd2":
                unused = ldm_config.sd2_ignored_layer(shapes)
                state = {k: v for k, v in state.items() if not k.startswith(unused)}
            with init_empty_weights():
                shell = cls(config)
            weights = convert_open_clip_checkpoint(shell, state, prefix=prefix)
        encoders[component] = _instantiate(cls, config, weights, component.replace("_", " "))
    return encoders


def load_single_file(info: CheckpointInfo, allow_pickle: bool = False) -> tuple[CheckpointInfo, dict[str, Any], dict]:
    state = _read_state(info, allow_pickle)
    if info.layout == "pickle":
        info = _family_of_pickle(info.path, state)
    if info.kind != "pipeline" or info.family is None:
        raise ModelError(f"{info.path.name}: {info.problem or 'not a Stable Diffusion checkpoint'}")
    family = info.family
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    try:
        unet_cfg = ldm_config.unet_config(family, shapes, ldm_config.pooled_dim(family, shapes))
        vae_cfg = ldm_config.vae_config(family, shapes)
        components = _text_encoders(family, state, shapes)
        components["unet"] = _instantiate(
            UNet2DConditionModel, unet_cfg, convert_ldm_unet_checkpoint(state, unet_cfg), "UNet"
        )
        components["vae"] = _instantiate(AutoencoderKL, vae_cfg, convert_ldm_vae_checkpoint(state, vae_cfg), "VAE")
    except (KeyError, IndexError, StopIteration) as error:
        raise ModelError(f"{info.path.name} looks like {family} but a tensor is missing ({error})") from None
    components["tokenizer"] = _tokenizer("clip_l" if ldm_config.base_of(family) != "sd2" else "open_clip")
    if "text_encoder_2" in components:
        components["tokenizer_2"] = _tokenizer("open_clip")
    return info, components, ldm_config.scheduler_config(family)


COMPONENT_CLASSES = {
    "unet": UNet2DConditionModel,
    "vae": AutoencoderKL,
    "text_encoder": CLIPTextModel,
    "text_encoder_2": CLIPTextModelWithProjection,
}


def load_diffusers_folder(info: CheckpointInfo) -> tuple[dict[str, Any], dict]:
    folder = info.path
    components: dict[str, Any] = {}
    try:
        for name, cls in COMPONENT_CLASSES.items():
            if (folder / name).is_dir():
                components[name] = cls.from_pretrained(folder, subfolder=name, local_files_only=True)
        for name in ("tokenizer", "tokenizer_2"):
            if (folder / name).is_dir():
                components[name] = CLIPTokenizer.from_pretrained(folder, subfolder=name, local_files_only=True)
        scheduler_config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the diffusers folder {folder.name}: {str(error).splitlines()[0]}") from None
    return components, scheduler_config


def load_upscaler_folder(info: CheckpointInfo) -> tuple[dict[str, Any], dict]:
    """The ×4 upscaler as a diffusers folder (StableDiffusionUpscalePipeline layout)."""
    from diffusers import StableDiffusionUpscalePipeline

    try:
        pipe = StableDiffusionUpscalePipeline.from_pretrained(info.path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the upscaler {info.path.name}: {str(error).splitlines()[0]}") from None
    components = {k: v for k, v in pipe.components.items() if k not in ("safety_checker", "feature_extractor", "watermarker")}
    return components, dict(components.pop("scheduler").config)


def load_starter_folder(info: CheckpointInfo, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    """One of Studio's starter models (core/starter.py): a UNet2DModel and its DDPM schedule, nothing else."""
    from studio.train.starter_model import load_starter

    try:
        starter = load_starter(info.path, device, dtype)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the starter model {info.path.name}: {str(error).splitlines()[0]}") from None
    return LoadedModel(info, {"unet": starter.unet}, starter.scheduler_config, dtype, device, extra={"starter": starter})


def load_model(path: str | Path, device: torch.device, dtype: torch.dtype, allow_pickle: bool = False) -> LoadedModel:
    info = checkpoints.inspect(path)
    if info.problem and not (info.layout == "pickle" and allow_pickle):
        raise ModelError(f"{info.path.name}: {info.problem}")
    if info.starter:
        return load_starter_folder(info, device, dtype)
    if info.kind == "upscaler" and info.layout == "diffusers":
        components, scheduler_config = load_upscaler_folder(info)
    elif info.layout != "pickle" and info.kind != "pipeline":
        raise ModelError(f"{info.path.name} is a {info.kind} model, not a Stable Diffusion base model")
    elif info.layout == "diffusers":
        components, scheduler_config = load_diffusers_folder(info)
    else:
        info, components, scheduler_config = load_single_file(info, allow_pickle)
    for name, module in components.items():
        if isinstance(module, torch.nn.Module):
            components[name] = module.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return LoadedModel(info, components, scheduler_config, dtype, device)
