"""MultiDiffusion-style tiling: the UNet sees overlapping tiles of the latent and their predictions are
blended by smooth weights, at every step. The denoising stays one global process (no seams), and the
UNet's memory depends on the tile size, not on the picture's. A ControlNet call the pipeline deferred
(engine/tiled_control.py) is made per tile, so each tile is steered by its own part of the control maps.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

from studio.engine.tiled_control import DeferredControl


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Evenly spread starts of tiles of size `tile` covering [0, length) with at least `overlap` shared."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def blend_weights(height: int, width: int, overlap: int, device, dtype) -> torch.Tensor:
    """1 in the middle, ramping linearly to a small positive value at the edges over `overlap` pixels."""
    def ramp(n: int) -> torch.Tensor:
        position = torch.arange(n, device=device, dtype=torch.float32)
        distance = torch.minimum(position + 1, n - position)
        return (distance / max(overlap, 1)).clamp(max=1.0)

    return (ramp(height)[:, None] * ramp(width)[None, :]).to(dtype)


class TiledUNet(torch.nn.Module):
    """Wraps a diffusers UNet with the same call signature; tiles only inputs larger than `tile`."""

    def __init__(self, unet, tile: int, overlap: int, on_tile: Callable[[int, int], None] | None = None):
        super().__init__()
        if not 0 <= overlap < tile:
            raise ValueError(f"tile overlap {overlap} must be smaller than the tile {tile}")
        self.unet = unet
        self.tile, self.overlap, self.on_tile = tile, overlap, on_tile
        self.largest_input: tuple[int, int] = (0, 0)  # the largest spatial size the UNet was given

    def __getattr__(self, name: str):
        """Everything else a pipeline asks of a UNet (add_embedding, attn processors…) is the wrapped UNet's."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["unet"], name)

    @property
    def config(self):
        return self.unet.config

    @property
    def dtype(self):
        return self.unet.dtype

    @property
    def device(self):
        return self.unet.device

    def forward(self, sample: torch.Tensor, timestep, *args, return_dict: bool = True, **kwargs):
        height, width = sample.shape[-2:]
        rows, cols = tile_starts(height, self.tile, self.overlap), tile_starts(width, self.tile, self.overlap)
        out, total = None, None
        for index, (top, left) in enumerate((r, c) for r in rows for c in cols):
            window = (..., slice(top, top + min(self.tile, height)), slice(left, left + min(self.tile, width)))
            patch = sample[window]
            self.largest_input = max(self.largest_input, tuple(patch.shape[-2:]))
            prediction = self.unet(patch, timestep, *args, return_dict=False, **_controlled(kwargs, window[1:]))[0]
            weight = blend_weights(*patch.shape[-2:], self.overlap, sample.device, prediction.dtype)
            if out is None:
                out = prediction.new_zeros(prediction.shape[:-2] + (height, width))
                total = prediction.new_zeros((height, width))
            out[window] += prediction * weight
            total[top:top + patch.shape[-2], left:left + patch.shape[-1]] += weight
            if self.on_tile is not None:
                self.on_tile(index + 1, len(rows) * len(cols))
        result = out / total
        return UNet2DConditionOutput(sample=result) if return_dict else (result,)


def _controlled(kwargs: dict, window: tuple[slice, slice]) -> dict:
    """The UNet's keyword arguments for one tile: a deferred ControlNet call becomes that tile's residuals."""
    deferred = kwargs.get("down_block_additional_residuals")
    if not isinstance(deferred, DeferredControl):
        return kwargs
    down, mid = deferred.at(window)
    return dict(kwargs, down_block_additional_residuals=down, mid_block_additional_residual=mid)
