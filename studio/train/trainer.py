"""The DDPM recipe on diffusers' UNet2DModel: ε-prediction, a fixed noise schedule, the simple loss.

    loss = || ε - ε_θ(√ᾱ_t x0 + √(1-ᾱ_t) ε, t) ||²,   t ~ U{0..T-1},  ε ~ N(0, I)

Unconditional: x0 is a photo crop. Super-resolution (SR3): the UNet also sees the bicubic upsample of the
8-bit low-resolution crop, concatenated on channels; x0 is the residual (HR - upsample) * residual_scale, as
SRDiff does, so the model spends its capacity on the missing detail.

Resumable exactly: a checkpoint holds model, AdamW, EMA and step; each step's random numbers (crops, noise,
timesteps) come from generators seeded by (seed, step), so a resumed run takes the same steps as an
uninterrupted one. Output folder:

    checkpoints/step-XXXXXXX.pt   the last `keep_checkpoints` checkpoints
    train-log.jsonl               step, loss (mean since the last line), lr, images/s, elapsed minutes
    model/                        the EMA weights as a starter folder (starter_model.py), written at the end
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from studio.train.config import SUPER_RESOLUTION, UNCONDITIONAL, TrainConfig
from studio.train.data import TRAIN, Manifest, PhotoCrops
from studio.train.ops import bicubic_down, bicubic_up
from studio.train.starter_model import KIND_SR, KIND_UNCONDITIONAL, save_starter

log = logging.getLogger(__name__)

# settings that may change between a run and its resumption; any other change is refused (a lower learning_rate
# on resume anneals a model that has stopped improving)
_RESUMABLE_CHANGES = {"max_steps", "max_minutes", "checkpoint_every", "keep_checkpoints", "log_every", "compile", "notes",
                      "learning_rate"}

# inpaint resample 4: on the held-out box holes, +0.7 dB over resample 2 at the cost of 50 more steps, more than
# 50 steps with resample 2 gave (docs/starter-models.md, "Sampling settings")
DEFAULT_SAMPLING = {
    # inpainting: RePaint with resampling, pulled by the manifold constraint from "leading" timesteps, the mean of
    # 4 fills: the one setting past Telea and Navier-Stokes on PSNR, SSIM and GMSD (starter-models.md, session 7)
    KIND_UNCONDITIONAL: {"inpaint": {"steps": 25, "eta": 1.0, "resample": 4, "spacing": "leading",
                                     "consistency": 16.0, "samples": 4},
                         "sdedit": {"steps": 25, "eta": 1.0}},
    # the mean of 4, from the bicubic upsample noised 0.7 of the way in: on the 8 held-out crops, +0.5 dB over the
    # same mean from pure noise, in 0.7 of the steps (docs/starter-models.md, "Sampling settings")
    KIND_SR: {"upscale": {"steps": 20, "eta": 0.0, "samples": 4, "strength": 0.7}},
}


@dataclass
class TrainResult:
    out: Path
    model_dir: Path
    step: int
    losses: list[tuple[int, float]]  # (step, mean loss over the logged interval)
    stopped: str  # "max_steps" or "max_minutes"
    unet: torch.nn.Module  # the raw trained weights
    ema_unet: torch.nn.Module  # the EMA weights (what model_dir holds, in fp16)


def build_unet(config: TrainConfig):
    from diffusers import UNet2DModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return UNet2DModel(**config.unet_config)


def build_scheduler(config: TrainConfig):
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type="epsilon",
        # samplers clip the predicted x0 to its possible range: pixels in [-1, 1]; SR's scaled residual
        # (HR - upsample: within [-1, 1] but for the rarest pixels) times residual_scale
        clip_sample=True,
        clip_sample_range=1.0 if config.kind == UNCONDITIONAL else config.residual_scale,
    )


def make_batch(config: TrainConfig, crops: PhotoCrops, rng: np.random.Generator, batch: int):
    """(x0, condition or None) for one step."""
    high = crops.sample(batch, rng)
    if config.kind == UNCONDITIONAL:
        return high, None
    condition = bicubic_up(bicubic_down(high, config.scale), tuple(high.shape[-2:]))
    return (high - condition) * config.residual_scale, condition


def diffusion_loss(unet, scheduler, x0: torch.Tensor, condition: torch.Tensor | None, generator: torch.Generator,
                   autocast=nullcontext, forward=None) -> torch.Tensor:
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator,
                              device=x0.device)
    noisy = scheduler.add_noise(x0, noise, timesteps)
    model_input = noisy if condition is None else torch.cat([noisy, condition], dim=1)
    with autocast():
        prediction = (forward or unet)(model_input, timesteps).sample
    return F.mse_loss(prediction.float(), noise)


def step_generators(config: TrainConfig, step: int, device: torch.device):
    rng = np.random.default_rng([config.seed, step])
    generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
    return rng, generator


@torch.no_grad()
def fixed_loss(unet, config: TrainConfig, crops: PhotoCrops, batches: int = 4, seed: int = 12345) -> float:
    """The loss on fixed batches, noise and timesteps: comparable between two models."""
    scheduler = build_scheduler(config)
    device = next(unet.parameters()).device
    total = 0.0
    for i in range(batches):
        rng, generator = step_generators(TrainConfig(**{**config.to_json(), "seed": seed}), i, device)
        x0, condition = make_batch(config, crops, rng, config.batch_size)
        total += diffusion_loss(unet, scheduler, x0, condition, generator).item()
    return total / batches


def _latest_checkpoint(folder: Path) -> Path | None:
    found = sorted(folder.glob("step-*.pt"))
    return found[-1] if found else None


def _save_checkpoint(folder: Path, state: dict, keep: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{state['step']:07d}.pt"
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a run killed mid-write leaves the previous checkpoint intact
    for old in sorted(folder.glob("step-*.pt"))[:-keep]:
        old.unlink()
    return path


def _check_resumable(saved: dict, config: TrainConfig) -> None:
    now = config.to_json()
    changed = sorted(k for k in now if k not in _RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        raise ValueError(f"the checkpoint was made with other settings ({', '.join(changed)}); "
                         "use a new output folder or the same config")


def train(config: TrainConfig, data: str | Path, out: str | Path, *, device=None, resume: bool = True,
          progress: bool = True, licence: dict | None = None) -> TrainResult:
    """Train (or continue training) one model; writes checkpoints, a log and, at the end, out/model."""
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    manifest = Manifest.load(data)
    crops = PhotoCrops.from_folder(data, config.crop_size, device=device, split=TRAIN)
    unet = build_unet(config).to(device)
    if cuda and config.channels_last:
        unet = unet.to(memory_format=torch.channels_last)
    scheduler = build_scheduler(config)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    ema = EMAModel(unet.parameters(), decay=config.ema_decay, use_ema_warmup=True, power=config.ema_power,
                   foreach=cuda)
    ema.to(device)

    step, losses, elapsed_before = 0, [], 0.0
    checkpoints = out / "checkpoints"
    latest = _latest_checkpoint(checkpoints) if resume else None
    if latest is not None:
        state = torch.load(latest, map_location=device, weights_only=True)
        _check_resumable(state["config"], config)
        unet.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ema.load_state_dict(state["ema"])
        ema.to(device)
        step, losses, elapsed_before = state["step"], [tuple(x) for x in state["losses"]], state["elapsed"]
        log.info("resuming from %s", latest)

    forward = torch.compile(unet) if (config.compile and cuda) else unet
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if (cuda and config.mixed_precision == "bf16") \
        else nullcontext

    def checkpoint_state():
        return {"step": step, "model": unet.state_dict(), "optimizer": optimizer.state_dict(), "ema": ema.state_dict(),
                "losses": [list(x) for x in losses], "elapsed": elapsed_before + time.monotonic() - started,
                "config": config.to_json()}

    started = time.monotonic()
    stopped = "max_steps"
    running, count, interval_start = 0.0, 0, time.monotonic()
    unet.train()
    bar = tqdm(total=config.max_steps, initial=step, disable=not progress, desc=f"{config.kind}", unit="step",
               dynamic_ncols=True)
    with open(out / "train-log.jsonl", "a") as train_log:
        while step < config.max_steps:
            if config.max_minutes is not None and time.monotonic() - started > config.max_minutes * 60:
                stopped = "max_minutes"
                break
            rng, generator = step_generators(config, step, device)
            x0, condition = make_batch(config, crops, rng, config.batch_size)
            if cuda and config.channels_last:
                x0 = x0.contiguous(memory_format=torch.channels_last)
                condition = None if condition is None else condition.contiguous(memory_format=torch.channels_last)
            lr = config.learning_rate * (min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = diffusion_loss(unet, scheduler, x0, condition, generator, autocast, forward)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(unet.parameters(), config.grad_clip)
            optimizer.step()
            ema.step(unet.parameters())
            step += 1
            running += loss.item()
            count += 1
            bar.update(1)
            if step % config.log_every == 0 or step == config.max_steps:
                now = time.monotonic()
                mean = running / count
                losses.append((step, mean))
                line = {"step": step, "loss": round(mean, 6), "lr": lr,
                        "images_per_s": round(count * config.batch_size / max(now - interval_start, 1e-9), 1),
                        "minutes": round((elapsed_before + now - started) / 60, 3)}
                train_log.write(json.dumps(line) + "\n")
                train_log.flush()
                bar.set_postfix(loss=f"{mean:.4f}", lr=f"{lr:.1e}")
                running, count, interval_start = 0.0, 0, now
            if step % config.checkpoint_every == 0:
                _save_checkpoint(checkpoints, checkpoint_state(), config.keep_checkpoints)
    bar.close()
    if _latest_checkpoint(checkpoints) is None or not _latest_checkpoint(checkpoints).name.endswith(f"{step:07d}.pt"):
        _save_checkpoint(checkpoints, checkpoint_state(), config.keep_checkpoints)

    ema_unet = copy.deepcopy(unet)
    ema.copy_to(ema_unet.parameters())
    ema_unet = ema_unet.to(memory_format=torch.contiguous_format).eval()
    info = {
        "kind": KIND_UNCONDITIONAL if config.kind == UNCONDITIONAL else KIND_SR,
        "scale": config.scale if config.kind == SUPER_RESOLUTION else None,
        "residual_scale": config.residual_scale if config.kind == SUPER_RESOLUTION else None,
        "crop_size": config.crop_size,
        "sampling": DEFAULT_SAMPLING[KIND_UNCONDITIONAL if config.kind == UNCONDITIONAL else KIND_SR],
        "training": {
            "steps": step, "minutes": round((elapsed_before + time.monotonic() - started) / 60, 2),
            "final_loss": losses[-1][1] if losses else None, "device": torch.cuda.get_device_name(device) if cuda else "cpu",
            "parameters": sum(p.numel() for p in unet.parameters()), "config": config.to_json(),
            "recipe": "DDPM: epsilon-prediction, fixed schedule, simple MSE loss, AdamW, EMA weights",
        },
        "data": manifest.summary(),
        "licence": licence or default_licence(manifest),
    }
    model_dir = save_starter(out / "model", ema_unet, scheduler, info)
    return TrainResult(out, model_dir, step, losses, stopped, unet, ema_unet)


def default_licence(manifest: Manifest) -> dict:
    train = manifest.split(TRAIN)
    return {
        "code": "Apache-2.0",
        "data": sorted({p.licence for p in train}),
        "data_authors": sorted({p.author for p in train}),
        "weights": "trained on the photographs listed in docs/data-provenance.md; see docs/starter-models.md",
    }


def train_unconditional(config: TrainConfig, data: str | Path, out: str | Path, **kwargs) -> TrainResult:
    """The photo model used for inpainting (known region re-imposed every step) and SDEdit."""
    if config.kind != UNCONDITIONAL:
        raise ValueError(f"config kind is {config.kind!r}, not {UNCONDITIONAL!r}")
    return train(config, data, out, **kwargs)


def train_super_resolution(config: TrainConfig, data: str | Path, out: str | Path, **kwargs) -> TrainResult:
    """The SR3-style upscaler: ε-prediction on the residual, conditioned on the bicubic upsample."""
    if config.kind != SUPER_RESOLUTION:
        raise ValueError(f"config kind is {config.kind!r}, not {SUPER_RESOLUTION!r}")
    return train(config, data, out, **kwargs)
