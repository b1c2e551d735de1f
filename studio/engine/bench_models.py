"""Random-weight models for `studio bench`: the real-size architectures of the bundled configs (or tiny ones, for
the tests), built directly on the device and wrapped as LoadedModels, so the engine runs them exactly as it runs a
user's checkpoint. Speed does not depend on the weights' values, only on the architecture, dtype and shapes.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, ControlNetModel, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from studio.core.checkpoints import CheckpointInfo
from studio.core.resources import family_config_dir, resources_dir
from studio.engine.loading import LoadedModel, _tokenizer
from studio.engine.memory import choose_policy, model_bytes
from studio.engine.model_store import ModelStore

UPSCALER = "sd_x4_upscaler"  # resources/models/sd_x4_upscaler: configs only, not a checkpoint family
TINY_WIDTH = 32  # text encoder width of the tiny models
TINY_TIME_EMBED = 8  # SDXL's addition_time_embed_dim in the tiny models
TEXT_CLASSES = {"CLIPTextModel": CLIPTextModel, "CLIPTextModelWithProjection": CLIPTextModelWithProjection}


def config_dir(name: str) -> Path:
    return resources_dir() / "models" / UPSCALER if name == UPSCALER else family_config_dir(name)


def read_config(name: str, component: str) -> dict:
    file = "scheduler_config.json" if component.endswith("scheduler") else "config.json"
    return json.loads((config_dir(name) / component / file).read_text())


# tiny versions of the bundled configs: same block types, attention layout and conditioning, small widths ----------


def _ends(value):
    """First and last level of a per-level list (the tiny UNets have two levels)."""
    return [value[0], value[-1]] if isinstance(value, (list, tuple)) else value


def tiny_unet_config(config: dict, text_width: int) -> dict:
    config = dict(config)
    for key in ("down_block_types", "up_block_types", "only_cross_attention"):
        if key in config:
            config[key] = _ends(config[key])
    config.update(block_out_channels=[32, 64], layers_per_block=1, sample_size=8, cross_attention_dim=text_width)
    if isinstance(config.get("attention_head_dim"), (list, tuple)):
        config["attention_head_dim"] = [2, 2]  # heads per level (diffusers' name): 16- and 32-wide heads
    if isinstance(config.get("transformer_layers_per_block"), (list, tuple)):
        config["transformer_layers_per_block"] = [1, 2]
    if config.get("addition_embed_type") == "text_time":
        time_ids = (config["projection_class_embeddings_input_dim"] - 1280) // config["addition_time_embed_dim"]
        config.update(addition_time_embed_dim=TINY_TIME_EMBED,
                      projection_class_embeddings_input_dim=TINY_WIDTH + time_ids * TINY_TIME_EMBED)
    return config


def tiny_vae_config(config: dict) -> dict:
    levels = len(config["block_out_channels"])
    return dict(config, block_out_channels=[32, 32, 64, 64][:levels] if levels <= 4 else [32] * levels,
                layers_per_block=1, sample_size=64)


def tiny_text_config(config: dict) -> dict:
    return dict(config, hidden_size=TINY_WIDTH, intermediate_size=37, num_hidden_layers=2, num_attention_heads=1,
                projection_dim=TINY_WIDTH)


# building ----------------------------------------------------------------------------------------------------------


def _finish(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    return module.to(dtype=dtype).eval().requires_grad_(False)


def _text_width(name: str, tiny: bool) -> int:
    """The UNet's cross-attention width: the text encoders' widths side by side (SDXL has two)."""
    folder = config_dir(name)
    widths = [TINY_WIDTH if tiny else read_config(name, part)["hidden_size"]
              for part in ("text_encoder", "text_encoder_2") if (folder / part).is_dir()]
    return sum(widths)


def build_unet(name: str, device: torch.device, dtype: torch.dtype, tiny: bool) -> UNet2DConditionModel:
    config = read_config(name, "unet")
    if tiny:
        config = tiny_unet_config(config, _text_width(name, tiny))
    with torch.device(device):
        return _finish(UNet2DConditionModel.from_config(config), dtype)


def build_vae(name: str, device: torch.device, dtype: torch.dtype, tiny: bool) -> AutoencoderKL:
    config = read_config(name, "vae")
    with torch.device(device):
        return _finish(AutoencoderKL.from_config(tiny_vae_config(config) if tiny else config), dtype)


def build_text_encoders(name: str, device: torch.device, dtype: torch.dtype, tiny: bool) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for component in ("text_encoder", "text_encoder_2"):
        if not (config_dir(name) / component).is_dir():
            continue
        raw = read_config(name, component)
        config = CLIPTextConfig(**(tiny_text_config(raw) if tiny else raw))
        with torch.device(device):
            parts[component] = _finish(TEXT_CLASSES[raw["architectures"][0]](config), dtype)
    sd2_like = name.startswith("sd2") or name == UPSCALER
    parts["tokenizer"] = _tokenizer("open_clip" if sd2_like else "clip_l")
    if "text_encoder_2" in parts:
        parts["tokenizer_2"] = _tokenizer("open_clip")
    return parts


@contextmanager
def _seeded(device: torch.device, seed: int):
    """Deterministic weights without touching the caller's random state."""
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def loaded(name: str, kind: str, family: str | None, components: dict, scheduler_config: dict,
           device: torch.device, dtype: torch.dtype) -> LoadedModel:
    info = CheckpointInfo(Path(f"bench-{name}"), "diffusers", kind, family)
    model = LoadedModel(info, components, scheduler_config, dtype, device)
    model.memory_policy = choose_policy(device, model_bytes(components))
    return model


def build_model(family: str, device: torch.device, dtype: torch.dtype, tiny: bool = False, seed: int = 0,
                share: LoadedModel | None = None) -> LoadedModel:
    """A base model of `family` with random weights. With `share`, only the UNet is new: the VAE, text encoders and
    tokenizers are `share`'s (an inpainting UNet beside its base model, as a user who has both would run them)."""
    with _seeded(device, seed):
        if share is None:
            components = build_text_encoders(family, device, dtype, tiny)
            components["vae"] = build_vae(family, device, dtype, tiny)
        else:
            components = {k: v for k, v in share.components.items() if k != "unet"}
        components["unet"] = build_unet(family, device, dtype, tiny)
    return loaded(family, "pipeline", family, components, read_config(family, "scheduler"), device, dtype)


def build_controlnet(base: LoadedModel, seed: int = 0) -> ControlNetModel:
    """A ControlNet made from the base UNet, as their authors initialise them (same architecture as trained ones)."""
    with _seeded(base.device, seed + 1), torch.device(base.device):
        controlnet = ControlNetModel.from_unet(base.components["unet"])
    return _finish(controlnet, base.dtype)


def build_upscaler(device: torch.device, dtype: torch.dtype, tiny: bool = False, seed: int = 0) -> LoadedModel:
    """The ×4 upscaler (StableDiffusionUpscalePipeline's components) from resources/models/sd_x4_upscaler."""
    with _seeded(device, seed + 2):
        components = build_text_encoders(UPSCALER, device, dtype, tiny)
        components["vae"] = build_vae(UPSCALER, device, dtype, tiny)
        components["unet"] = build_unet(UPSCALER, device, dtype, tiny)
    components["low_res_scheduler"] = DDPMScheduler.from_config(read_config(UPSCALER, "low_res_scheduler"))
    return loaded(UPSCALER, "upscaler", None, components, read_config(UPSCALER, "scheduler"), device, dtype)


def convert(model: LoadedModel, dtype: torch.dtype, extra: list[torch.nn.Module] = ()) -> None:
    """Change a loaded model (and other modules, e.g. its ControlNets) to another dtype, in place."""
    for module in [*model.components.values(), *extra]:
        if isinstance(module, torch.nn.Module):
            module.to(dtype=dtype)
    model.dtype = dtype


class BenchStore(ModelStore):
    """A ModelStore holding models built in memory, by name, so `run_recipe` runs them like files from disk."""

    def __init__(self, device: torch.device, dtype: torch.dtype):
        super().__init__(device=device, dtype=dtype)
        self.models: dict[str, LoadedModel] = {}
        self.controlnets: dict[str, Any] = {}

    def get(self, path) -> LoadedModel:
        model = self.models[str(path)]
        self._loaded = model
        return model

    def controlnet(self, path):
        return self.controlnets[str(path)]

    def release(self) -> None:
        super().release()
        self.models.clear()
        self.controlnets.clear()
