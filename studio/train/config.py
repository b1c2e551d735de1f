"""Training configurations: one dataclass, JSON in and out, and the named presets.

Presets
  tiny-cpu / tiny-cpu-sr   tens of thousands of parameters, 16-32 px crops, a few dozen steps: the tests.
  starter / starter-sr     the shipped models, ~10 M parameters (~20 MB as fp16), 128 px crops: the GPU run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

UNCONDITIONAL = "unconditional"
SUPER_RESOLUTION = "super_resolution"


@dataclass(frozen=True)
class TrainConfig:
    kind: str  # UNCONDITIONAL or SUPER_RESOLUTION
    unet: dict[str, Any]  # diffusers UNet2DModel config (in/out channels are set from `kind`)
    crop_size: int = 128  # the high-resolution side for SR
    scale: int = 4  # SR only: low-resolution side = crop_size // scale
    residual_scale: float = 4.0  # SR only: the diffused variable is (HR - bicubic(LR)) * residual_scale
    beta_schedule: str = "linear"  # DDPM's fixed schedule ("linear", or "squaredcos_cap_v2" for cosine)
    num_train_timesteps: int = 1000
    batch_size: int = 64
    learning_rate: float = 2e-4
    warmup_steps: int = 500
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_steps: int = 100_000
    max_minutes: float | None = None  # stop (and save) after this much wall-clock time
    ema_decay: float = 0.9995
    ema_power: float = 2 / 3  # EMA warm-up: decay = min(ema_decay, 1 - (1 + step) ** -power)
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 50
    seed: int = 0
    mixed_precision: str = "bf16"  # on CUDA only; CPU trains in fp32
    channels_last: bool = True  # on CUDA only
    compile: bool = False  # torch.compile the UNet (CUDA); costs a minute of compilation
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in (UNCONDITIONAL, SUPER_RESOLUTION):
            raise ValueError(f"kind must be {UNCONDITIONAL!r} or {SUPER_RESOLUTION!r}, got {self.kind!r}")
        multiple = 2 ** (len(self.unet["block_out_channels"]) - 1)
        if self.crop_size % multiple:
            raise ValueError(f"crop_size {self.crop_size} must be a multiple of {multiple}")
        if self.kind == SUPER_RESOLUTION and self.crop_size % self.scale:
            raise ValueError(f"crop_size {self.crop_size} must be a multiple of scale {self.scale}")

    @property
    def unet_config(self) -> dict[str, Any]:
        sr = self.kind == SUPER_RESOLUTION
        return {**self.unet, "sample_size": self.crop_size, "in_channels": 6 if sr else 3, "out_channels": 3}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        return cls(**data)

    def with_overrides(self, **changes) -> "TrainConfig":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _unet(channels, attention_levels: int, layers: int = 2, groups: int = 32, head_dim: int = 32) -> dict:
    levels = len(channels)
    plain = levels - attention_levels
    return {
        "block_out_channels": list(channels),
        "layers_per_block": layers,
        "down_block_types": ["DownBlock2D"] * plain + ["AttnDownBlock2D"] * attention_levels,
        "up_block_types": ["AttnUpBlock2D"] * attention_levels + ["UpBlock2D"] * plain,
        "norm_num_groups": groups,
        "attention_head_dim": head_dim,
        "dropout": 0.0,
    }


PRESETS: dict[str, TrainConfig] = {
    "tiny-cpu": TrainConfig(
        kind=UNCONDITIONAL, unet=_unet((8, 16), attention_levels=1, layers=1, groups=4, head_dim=8),
        crop_size=16, batch_size=8, learning_rate=2e-3, warmup_steps=0, max_steps=40, ema_decay=0.9,
        checkpoint_every=20, log_every=5),
    "tiny-cpu-sr": TrainConfig(
        kind=SUPER_RESOLUTION, unet=_unet((8, 16), attention_levels=0, layers=1, groups=4, head_dim=8),
        crop_size=32, scale=4, batch_size=8, learning_rate=2e-3, warmup_steps=0, max_steps=40, ema_decay=0.9,
        checkpoint_every=20, log_every=5),
    # ~10.1 M parameters; attention at 32 and 16 px for a 128 px crop
    "starter": TrainConfig(
        kind=UNCONDITIONAL, unet=_unet((64, 96, 128, 160), attention_levels=2), crop_size=128, batch_size=64,
        learning_rate=2e-4, warmup_steps=500, max_steps=60_000, checkpoint_every=2000),
    # ~9.2 M parameters, no attention: fully convolutional, so it upscales pictures of any size
    "starter-sr": TrainConfig(
        kind=SUPER_RESOLUTION, unet=_unet((64, 96, 128, 160), attention_levels=0), crop_size=128, scale=4,
        batch_size=64, learning_rate=2e-4, warmup_steps=500, max_steps=60_000, checkpoint_every=2000),
}


def load_config(name_or_path: str) -> TrainConfig:
    """A preset name, or a JSON file written by `TrainConfig.to_json`."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(f"no preset or file {name_or_path!r}; presets: {sorted(PRESETS)}")
    return TrainConfig.from_json(json.loads(path.read_text()))
