"""The denoising loop of diffusers' Stable Diffusion pipelines, line for line, without text, VAE or pictures.

The conformance check drives the engine's own objects (the scheduler or KDiffusionScheduler adapter and the
GuidedUNet that `studio.engine.plugin_adapters.sampling_for` returns) through the same calls, in the same
order, as StableDiffusionImg2ImgPipeline.__call__ (diffusers 0.42): set_timesteps; get_timesteps with
strength and set_begin_index; add_noise at the first timestep; then per timestep cat([latents] * 2) when
guiding, scale_model_input, the UNet, uncond + s * (cond - uncond), and scheduler.step with the generator.
"""

from __future__ import annotations

import inspect

import torch

from studio.engine.plugin_adapters import Sampling


def _extra_step_kwargs(scheduler, generator, eta: float = 0.0) -> dict:
    """As StableDiffusionImg2ImgPipeline.prepare_extra_step_kwargs."""
    accepted = set(inspect.signature(scheduler.step).parameters.keys())
    extra = {}
    if "eta" in accepted:
        extra["eta"] = eta
    if "generator" in accepted:
        extra["generator"] = generator
    return extra


def denoise(
    sampling: Sampling,
    x0: torch.Tensor,
    steps: int,
    generator: torch.Generator,
    strength: float = 1.0,
    from_noise: bool = False,
) -> torch.Tensor:
    """Noise the clean latents `x0` (n, d) to the schedule's first step and denoise them back, as img2img does
    (strength 1: the whole schedule). `from_noise` starts instead from pure noise times init_noise_sigma, as
    text-to-image and inpainting at strength 1 do. Returns (n, d)."""
    scheduler, unet = sampling.scheduler, sampling.unet
    latents0 = x0.float()[:, :, None, None]
    batch = latents0.shape[0]
    scheduler.set_timesteps(steps, device="cpu")
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    timesteps = scheduler.timesteps[t_start * scheduler.order:]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(t_start * scheduler.order)
    noise = torch.randn(latents0.shape, generator=generator, dtype=torch.float32)
    if from_noise:
        latents = noise * scheduler.init_noise_sigma
    else:
        latents = scheduler.add_noise(latents0, noise, timesteps[:1].repeat(batch))
    labels = torch.ones(batch, 1)
    embeddings = torch.cat([torch.zeros(batch, 1), labels]) if sampling.cfg_batch else labels
    extra = _extra_step_kwargs(scheduler, generator)
    with torch.inference_mode():
        for t in timesteps:
            model_input = torch.cat([latents] * 2) if sampling.cfg_batch else latents
            model_input = scheduler.scale_model_input(model_input, t)
            prediction = unet(model_input, t, encoder_hidden_states=embeddings, return_dict=False)[0]
            if sampling.cfg_batch:
                uncond, cond = prediction.chunk(2)
                prediction = uncond + sampling.scale * (cond - uncond)
            latents = scheduler.step(prediction, t, latents, **extra, return_dict=False)[0]
    return latents[:, :, 0, 0].double()
