"""Pixel conversions shared by training and inference, so both see exactly the same inputs."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_unit(picture: np.ndarray, device=None, dtype=torch.float32) -> torch.Tensor:
    """HxWx3 uint8 -> 1x3xHxW in [-1, 1]."""
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 picture, got {picture.dtype} {picture.shape}")
    tensor = torch.from_numpy(np.array(picture, copy=True)).permute(2, 0, 1).unsqueeze(0)
    return (tensor.to(device=device, dtype=torch.float32) / 127.5 - 1.0).to(dtype)


def from_unit(tensor: torch.Tensor) -> np.ndarray:
    """1x3xHxW (or 3xHxW) in [-1, 1] -> HxWx3 uint8, rounded."""
    if tensor.ndim == 4:
        tensor = tensor[0]
    pixels = ((tensor.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).cpu().numpy()


def quantize(tensor: torch.Tensor) -> torch.Tensor:
    """Round [-1, 1] values to the 256 levels of an 8-bit picture (low-resolution inputs are 8-bit pictures)."""
    return (((tensor.clamp(-1, 1) + 1.0) * 127.5).round() / 127.5 - 1.0)


def bicubic_down(tensor: torch.Tensor, scale: int) -> torch.Tensor:
    """The degradation SR learns to undo: antialiased bicubic reduction (torch's matches Pillow's), 8-bit."""
    height, width = tensor.shape[-2:]
    small = F.interpolate(tensor.float(), size=(height // scale, width // scale), mode="bicubic", antialias=True,
                          align_corners=False)
    return quantize(small).to(tensor.dtype)


def bicubic_up(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The SR model's condition: the low-resolution picture upsampled bicubically to the output size."""
    return F.interpolate(tensor.float(), size=size, mode="bicubic", align_corners=False).clamp(-1, 1).to(tensor.dtype)


def pad_to_multiple(tensor: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad bottom/right to multiples of `multiple`; returns the padded tensor and the original size."""
    height, width = tensor.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        tensor = F.pad(tensor, (0, pad_w, 0, pad_h), mode=mode)
    return tensor, (height, width)
