"""Which device and dtype a job runs on."""

from __future__ import annotations

import os

import torch

from studio.engine.speed import preferred_dtype


def pick_device() -> torch.device:
    """STUDIO_DEVICE overrides; else the first of CUDA, Apple MPS, CPU."""
    if wanted := os.environ.get("STUDIO_DEVICE"):
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    """Half precision where the device computes it fast, full precision on CPU."""
    if wanted := os.environ.get("STUDIO_DTYPE"):
        return getattr(torch, wanted)
    return preferred_dtype(device)  # engine/speed.py: bf16 on Ampere and later, fp16 older GPUs/Apple, fp32 CPU
