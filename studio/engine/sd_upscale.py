"""Upscaling with a Stable Diffusion checkpoint (AUTOMATIC1111's "SD upscale", with MultiDiffusion's blending):
the picture is enlarged with Lanczos by the recipe's factor, then SDEdit at the recipe's strength redraws its
detail. The UNet sees overlapping latent tiles of the model's native size, blended at every step (one denoising
process, no seams), and the VAE works in tiles, so memory depends on the tile, not on the picture.

Any SD 1.x, 2.x or SDXL checkpoint does it, with the job's prompt, sampler, guidance, LoRAs, embeddings and
ControlNets (a tile ControlNet given the picture itself keeps a strong redraw faithful, as in AUTOMATIC1111's
"ControlNet tile upscale"); a strength around 0.3 keeps the picture and sharpens it, more invents more.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from PIL import Image

from studio.core.errors import StudioError
from studio.core.images import max_picture_pixels, upscaled_size
from studio.core.recipe import DEFAULT_UPSCALE_FACTOR
from studio.engine.inpaint import run_pipeline
from studio.engine.plugin_adapters import build_sampling_pipeline
from studio.engine.sdedit import require_a_step, sdedit_inputs
from studio.engine.task import TaskCall
from studio.engine.tiled_control import deferring
from studio.engine.tiling import TiledUNet

MULTIPLE = 8  # the VAE's scale


def enlarged_size(picture: np.ndarray, factor: float) -> tuple[int, int]:
    """The picture's size `factor` times larger, refused when Studio could not open a picture that large."""
    width, height = upscaled_size(picture.shape[1], picture.shape[0], factor)
    limit = max_picture_pixels()
    if limit is not None and width * height > limit:
        raise StudioError(f"{width} × {height} is larger than Studio handles ({limit:,} pixels): choose a smaller factor")
    return width, height


def sd_upscale(call: TaskCall) -> list[np.ndarray]:
    recipe, picture = call.recipe, call.picture
    width, height = enlarged_size(picture, recipe.upscale_factor or DEFAULT_UPSCALE_FACTOR)
    enlarged = np.asarray(Image.fromarray(picture).resize((width, height), Image.Resampling.LANCZOS))
    if recipe.strength == 0.0:
        return [enlarged.copy() for _ in call.seeds]
    require_a_step(recipe)
    task, extra = sdedit_inputs(call.model, enlarged, None)  # an inpainting checkpoint: its own pipeline
    controls = call.controls.at_size(width, height) if call.controls is not None else None
    pipe = build_sampling_pipeline(call.model, task, recipe, controlnet=controls.controlnet if controls else None)
    tile = call.model.native_size // MULTIPLE
    pipe.unet = TiledUNet(pipe.unet, tile, min(recipe.tile_overlap // MULTIPLE or tile // 4, tile // 2))
    if controls is not None:  # each tile steered by its own part of the maps (engine/tiled_control.py)
        pipe.controlnet = deferring(pipe.controlnet, MULTIPLE)
        extra.update(controls.pipeline_inputs(None, "control_image"))
    with _tiled(pipe.vae):  # decoding a large picture whole would need memory for all of it
        return run_pipeline(pipe, recipe, call.seeds, call.step_hook(), image=Image.fromarray(enlarged),
                            strength=recipe.strength, **extra)


@contextmanager
def _tiled(vae):
    """VAE tiling for this job only: the checkpoint's VAE serves its other tasks too, and their pictures must
    not depend on whether an upscale ran before (tiles change the last bits)."""
    was_tiled = vae.use_tiling
    vae.enable_tiling()
    try:
        yield
    finally:
        if not was_tiled:
            vae.disable_tiling()
