"""Cheap step previews: latents projected to RGB by a fixed linear map (no VAE decode)."""

from __future__ import annotations

import numpy as np
import torch

# Least-squares fits of latent channels to RGB, as used by ComfyUI and AUTOMATIC1111's "Approx cheap".
SD_FACTORS = [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]]
SD_BIAS = [0.0, 0.0, 0.0]
SDXL_FACTORS = [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]]
SDXL_BIAS = [0.1084, -0.0175, -0.0011]


def latents_to_preview(latents: torch.Tensor, family: str) -> np.ndarray:
    """The first item of a latent batch as a small HxWx3 uint8 picture (1/8 of the output size)."""
    latent = latents[0].detach().float().cpu()
    if latent.shape[0] != 4:
        grey = latent.mean(dim=0, keepdim=True).repeat(3, 1, 1)
        rgb = grey.permute(1, 2, 0)
    else:
        xl = family.startswith("sdxl")
        factors = torch.tensor(SDXL_FACTORS if xl else SD_FACTORS)
        bias = torch.tensor(SDXL_BIAS if xl else SD_BIAS)
        rgb = torch.einsum("chw,cr->hwr", latent, factors) + bias
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
