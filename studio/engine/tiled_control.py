"""ControlNets in tiled denoising (SD upscale, the hires fix's second pass): each UNet tile is steered by the
ControlNet run on that same tile, with that tile's part of the control map, as the multidiffusion upscaler for
AUTOMATIC1111 does.

A stock diffusers pipeline calls its ControlNet on the whole latent, then hands the residuals to the UNet. Here the
pipeline is given a stand-in of the same class (its type checks pass) whose call only records its arguments; the
tiled UNet (engine/tiling.py) then makes that call once per tile, on the tile's latent and the matching pixels of
each control map. The loaded ControlNet itself is never changed: the stand-in shares its weights, and the
ControlNet's own hooks (offloading…) run when the real one is called per tile.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import torch

from studio.core.errors import StudioError

Window = tuple[slice, slice]  # rows and columns of the latent


@dataclass
class DeferredControl:
    """One step's ControlNet call, recorded by the stand-in, made per tile by `at`."""

    controlnet: torch.nn.Module  # the real one (compiled, offloaded… as loaded)
    arguments: dict  # its forward's arguments, by name
    scale: int  # pixels per latent pixel: where a latent window lies in the control maps

    def at(self, window: Window) -> tuple:
        """(down residuals, mid residual) of the ControlNet run on `window` of the latent."""
        rows, cols = window
        pixel_rows = slice(rows.start * self.scale, rows.stop * self.scale)
        pixel_cols = slice(cols.start * self.scale, cols.stop * self.scale)
        arguments = dict(self.arguments, return_dict=False)
        arguments["sample"] = arguments["sample"][..., rows, cols]
        maps = arguments["controlnet_cond"]
        arguments["controlnet_cond"] = ([m[..., pixel_rows, pixel_cols] for m in maps] if isinstance(maps, (list, tuple))
                                        else maps[..., pixel_rows, pixel_cols])
        return self.controlnet(**arguments)


def deferring(controlnet: torch.nn.Module, scale: int) -> torch.nn.Module:
    """A stand-in for `controlnet` (a ControlNetModel or a MultiControlNetModel) for the pipeline to hold: calling it
    returns (DeferredControl, None) instead of residuals."""
    _refuse_pooled(controlnet)
    stand_in = object.__new__(_deferring_class(type(controlnet)))
    state = dict(controlnet.__dict__)
    state.pop("forward", None)  # an offload hook's wrapped forward: it runs when the real one is called per tile
    for name, value in state.items():  # hooks too: the stand-in computes nothing
        if name.startswith(("_forward", "_backward")) and isinstance(value, dict):
            state[name] = type(value)()
    state["_compiled_call_impl"] = None
    state["_deferred_target"] = controlnet
    state["_deferred_scale"] = scale
    stand_in.__dict__.update(state)
    return stand_in


def _refuse_pooled(controlnet: torch.nn.Module) -> None:
    """ControlNets that pool their conditions (shuffle) run in guess mode, whose residuals the pipeline edits
    between the two calls: they cannot be made per tile."""
    nets = getattr(controlnet, "nets", [controlnet])
    for net in nets:
        if net.config.get("global_pool_conditions", False):
            raise StudioError("a ControlNet that pools its conditions (content shuffle) cannot steer a tiled upscale: "
                              "remove it from the upscale or hires fix")


@functools.cache
def _deferring_class(cls: type) -> type:
    signature = inspect.signature(cls.forward)

    def forward(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        del arguments["self"]
        target = self.__dict__["_deferred_target"]
        return DeferredControl(target, arguments, self.__dict__["_deferred_scale"]), None

    return type(f"Deferred{cls.__name__}", (cls,), {"forward": forward})
