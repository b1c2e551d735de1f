"""Seamless tiling (AUTOMATIC1111's "Tiling"): every convolution of the UNet, the VAE and the ControlNets pads
circularly for the job, so the picture's right edge continues its left and its bottom its top, and copies of it
tile without a seam. The model is shared between jobs: its padding goes back as it was when the job ends."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import torch

CIRCULAR = "circular"


def _convolutions(modules: Iterable[torch.nn.Module]) -> Iterator[torch.nn.Conv2d]:
    seen = set()
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, torch.nn.Conv2d) and id(layer) not in seen:
                seen.add(id(layer))
                yield layer


@contextmanager
def seamless(modules: Iterable[torch.nn.Module]):
    """Circular padding in every 2-D convolution of `modules` inside the block."""
    before = [(layer, layer.padding_mode) for layer in _convolutions(modules)]
    for layer, _ in before:
        layer.padding_mode = CIRCULAR  # Conv2d.forward pads with F.pad(mode=padding_mode) when not "zeros"
    try:
        yield
    finally:
        for layer, mode in before:
            layer.padding_mode = mode
