"""The saved form of a starter model, and loading it back.

    <folder>/
      unet/config.json, unet/diffusion_pytorch_model.safetensors   (diffusers save_pretrained, fp16)
      scheduler/scheduler_config.json                               (the training DDPMScheduler)
      studio-starter.json                                           (what Studio needs to know, below)

studio-starter.json:
    format          1
    kind            "starter_unconditional" | "starter_sr"
    scale           SR: 2 or 4; else null
    residual_scale  SR: the diffused variable is (HR - bicubic(LR)) * residual_scale; else null
    crop_size       the training crop side (the model's native size; SR: the high-resolution side)
    multiple        picture sides must be multiples of this (the UNet halves them len(blocks)-1 times)
    prompts         "ignored": starter models are unconditional or conditioned on pixels only
    sampling        default steps / eta per task
    training        preset, steps, minutes, final loss, parameters
    data            data summary (photo counts per licence, held-out ids; see docs/data-provenance.md)
    licence         {"code": ..., "weights": ..., "data": [...]}

`read_starter_info` reads only the JSON (no torch), so a models folder can be listed instantly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the format lives in core (read without torch by the models list); re-exported here for the training code
from studio.core.starter import FORMAT, KIND_SR, KIND_UNCONDITIONAL, STARTER_FILE, read_starter_info  # noqa: F401


@dataclass
class StarterModel:
    unet: Any  # diffusers.UNet2DModel
    scheduler_config: dict
    info: dict
    path: Path | None = None

    @property
    def kind(self) -> str:
        return self.info["kind"]

    @property
    def scale(self) -> int | None:
        return self.info.get("scale")

    @property
    def residual_scale(self) -> float:
        return float(self.info.get("residual_scale") or 1.0)

    @property
    def multiple(self) -> int:
        return int(self.info["multiple"])

    @property
    def native_size(self) -> int:
        return int(self.info["crop_size"])

    @property
    def device(self):
        return next(self.unet.parameters()).device

    @property
    def dtype(self):
        return next(self.unet.parameters()).dtype


def save_starter(folder: str | Path, unet, scheduler, info: dict, max_shard_mb: int | None = None) -> Path:
    """Write a starter folder; the UNet is stored as fp16 safetensors (split in shards of at most
    `max_shard_mb` when asked, for transports that cap file sizes; diffusers loads shards transparently)."""
    import copy

    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    half = torch.nn.Module.to(copy.deepcopy(unet), device="cpu", dtype=torch.float16)  # ModelMixin.to warns needlessly
    kwargs = {"max_shard_size": f"{max_shard_mb}MB"} if max_shard_mb else {}
    half.save_pretrained(folder / "unet", safe_serialization=True, **kwargs)
    scheduler.save_pretrained(folder / "scheduler")
    info = {"format": FORMAT, **info, "multiple": 2 ** (len(unet.config.block_out_channels) - 1),
            "prompts": "ignored"}
    (folder / STARTER_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    return folder


def load_starter(folder: str | Path, device="cpu", dtype=None) -> StarterModel:
    """Load a starter folder offline (no hub access); dtype defaults to float32 on CPU, float16 elsewhere."""
    import torch
    from diffusers import DDPMScheduler, UNet2DModel

    folder = Path(folder)
    info = read_starter_info(folder)
    if info is None:
        raise ValueError(f"{folder}: no {STARTER_FILE}")
    device = torch.device(device)
    dtype = dtype or (torch.float32 if device.type == "cpu" else torch.float16)
    unet = UNet2DModel.from_pretrained(folder / "unet", torch_dtype=dtype, local_files_only=True)
    unet.to(device).eval().requires_grad_(False)
    scheduler_config = dict(DDPMScheduler.load_config(folder / "scheduler", local_files_only=True))
    return StarterModel(unet=unet, scheduler_config=scheduler_config, info=info, path=folder)
