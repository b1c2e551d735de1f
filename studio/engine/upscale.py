"""Diffusion super-resolution with the ×4 upscaler, tiled for pictures of any size.

The UNet runs on overlapping latent tiles blended at every step (engine/tiling.py) and the VAE decodes
in tiles, so memory stays flat as the picture grows; progress is reported per tile, cancel per step.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from diffusers import StableDiffusionUpscalePipeline

from studio.core.masks import Box, crop
from studio.engine.preview import latents_to_preview
from studio.engine.progress import Progress
from studio.engine.prompt_embeds import prompt_inputs
from studio.engine.task import TaskCall
from studio.engine.plugin_adapters import sampling_for
from studio.engine.speed import optimize_pipeline, speed_settings
from studio.engine.tiling import TiledUNet

SCALE = 4
MULTIPLE = 8  # the upscaler's UNet halves the latent three times


def _pad_to_multiple(picture: np.ndarray) -> np.ndarray:
    height, width = picture.shape[:2]
    return crop(picture, Box(0, 0, -(-width // MULTIPLE) * MULTIPLE, -(-height // MULTIPLE) * MULTIPLE))


def upscale(call: TaskCall) -> list[np.ndarray]:
    """Upscaled pictures, one per seed; computed one at a time (large pictures leave no room for a batch)."""
    return [
        _upscale_one(call.model, call.recipe, call.picture, seed, call.item + offset, call.items, call.on_progress, call.cancel)
        for offset, seed in enumerate(call.seeds)
    ]


def _sampling(model, recipe, tiled: TiledUNet):
    """The recipe's sampler and guidance around the tiled UNet: guidance sees each step's whole blended
    prediction. The upscale pipeline batches cond + uncond exactly when the scale is above 1, whatever the
    guidance type, so the guided UNet and a k-diffusion sampler follow that rule."""
    sampling = sampling_for(model.scheduler_config, tiled, recipe.sampler, recipe.sampler_params,
                            recipe.guidance_type, recipe.guidance_params, recipe.guidance)
    batched = recipe.guidance > 1.0
    sampling.unet.cfg_batch = sampling.cfg_batch = batched
    if hasattr(sampling.scheduler, "batch_doubled"):
        sampling.scheduler.batch_doubled = batched
    return sampling


def _upscale_one(model, recipe, picture, seed, item, items, on_progress, cancel) -> np.ndarray:
    height, width = picture.shape[:2]
    state = {"step": 0}

    def report(step: int, tile: int = 1, tiles: int = 1, latents=None):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if on_progress is not None:
            preview = latents_to_preview(latents, "upscaler") if latents is not None else None
            on_progress(Progress(step, recipe.steps, item, items, preview, tile, tiles))

    def on_step(index, timestep, latents):
        state["step"] = index + 1
        report(index + 1, latents=latents)

    def on_tile(tile, tiles):
        if tile < tiles:  # the last tile of a step is reported by on_step with a preview
            report(state["step"] + 1, tile, tiles)

    parts = dict(model.components)
    tiled = TiledUNet(parts.pop("unet"), recipe.tile_size, recipe.tile_overlap, on_tile)
    parts["vae"].enable_tiling()
    sampling = _sampling(model, recipe, tiled)
    pipe = StableDiffusionUpscalePipeline(**parts, unet=sampling.pipeline_unet, scheduler=sampling.scheduler)
    pipe.set_progress_bar_config(disable=True)
    optimize_pipeline(pipe, speed_settings(model))  # engine/speed.py: compile, channels_last… (all off on CPU)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    padded = _pad_to_multiple(picture)
    with torch.inference_mode():
        output = pipe(
            # weighted/long prompts, and textual-inversion embeddings, as embeddings
            **prompt_inputs(pipe, recipe.prompt, recipe.negative_prompt, embeddings=recipe.embeddings),
            image=Image.fromarray(padded),
            num_inference_steps=recipe.steps,
            guidance_scale=recipe.guidance,
            noise_level=recipe.noise_level,
            generator=generator,
            output_type="np",
            callback=on_step,
        )
    result = (np.clip(output.images[0], 0.0, 1.0) * 255).round().astype(np.uint8)
    return result[: height * SCALE, : width * SCALE]
