"""Running the starter models: inpainting and SDEdit with the unconditional photo model, and SR3 upscaling.

Plain functions on uint8 pictures, for the engine's task modules to wrap:

    inpaint(model, picture, mask, steps=, seed=, eta=, resample=, consistency=, spacing=, samples=) -> picture
    sdedit(model, picture, strength=, steps=, seed=, eta=, mask=)                                   -> picture
    upscale(model, picture, steps=, seed=, eta=, tile=, samples=, strength=)                        -> picture × scale

Sampling uses diffusers' DDIMScheduler (built from the model's saved DDPM config; "trailing" timesteps unless the
model's sampling settings say "leading"); `eta` 1 gives ancestral (DDPM-like) steps, 0 deterministic ones.
Inpainting re-imposes the known region, noised to the current level, before every UNet evaluation (RePaint);
`resample` > 1 also goes back one step and redoes it that many times in all (RePaint's resampling, jump length 1),
which lets the generated region agree with its surroundings; `consistency` > 0 also pulls every step along the
gradient that makes the denoised estimate agree with the known pixels (the manifold constraint of Chung et al.
2022, "MCG"), which does the same job more directly. Outside the mask, outputs equal the input exactly. Starter
models take no prompt.

`callback(info)` is called after every step with {"i", "total", "t", "denoised"} (the current estimate of the
final picture, 1x3xHxW in [-1, 1]); raising from it (e.g. a cancel) stops the sampling. `interrupt()` is called
before every UNet evaluation (several per step with resampling), so a cancel raised there stops within one. The
noise comes from a CPU generator seeded with `seed`, so a seed gives the same picture on any device.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from studio.train.ops import bicubic_up, from_unit, pad_to_multiple, to_unit
from studio.train.starter_model import KIND_SR, KIND_UNCONDITIONAL, StarterModel

Callback = Callable[[dict], None]
Interrupt = Callable[[], None]  # called before every UNet evaluation; raises to stop (a cancel mid-step)


SPACINGS = ("trailing", "leading")


def _scheduler(model: StarterModel, steps: int, spacing: str = "trailing"):
    """DDIM over `steps` timesteps: "trailing" ones start at the last training timestep and end at 1000/steps − 1;
    "leading" ones are the same shifted down to end at 1, which leaves less grain in the final estimate."""
    from diffusers import DDIMScheduler

    if spacing not in SPACINGS:
        raise ValueError(f"unknown timestep spacing {spacing!r}: one of {', '.join(SPACINGS)}")
    offset = {"steps_offset": 1} if spacing == "leading" else {}
    scheduler = DDIMScheduler.from_config(model.scheduler_config, timestep_spacing=spacing, set_alpha_to_one=True,
                                          **offset)
    scheduler.set_timesteps(steps)
    return scheduler


def _alpha(scheduler, t: int) -> float:
    return float(scheduler.alphas_cumprod[t]) if t >= 0 else float(scheduler.final_alpha_cumprod)


def _previous(scheduler, t: int) -> int:
    # the same previous timestep DDIMScheduler.step uses
    return t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps


def _noise(shape, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(like.device)


def _region(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """The pixels to generate: any nonzero mask value (soft edges are blended by the caller's composite)."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.shape != shape:
        raise ValueError(f"mask is {mask.shape}, picture is {shape}")
    return mask > 0


def _ramp(length: int, overlap: int, start: bool, end: bool) -> torch.Tensor:
    weights = torch.ones(length)
    ramp = torch.linspace(0, 1, overlap + 2)[1:-1]
    if start and overlap:
        weights[:overlap] = ramp
    if end and overlap:
        weights[-overlap:] = ramp.flip(0)
    return weights


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile - overlap))
    return starts + [size - tile]


def _predict(model: StarterModel, x: torch.Tensor, t, condition: torch.Tensor | None, tile: int | None,
             overlap: int) -> torch.Tensor:
    """ε for x (N x 3 x H x W, float32), in overlapping tiles blended linearly when `tile` is set."""
    def run(part, cond):
        inputs = part if cond is None else torch.cat([part, cond], dim=1)
        return model.unet(inputs.to(model.dtype), t).sample.float()

    height, width = x.shape[-2:]
    if tile is None or (height <= tile and width <= tile):
        return run(x, condition)
    eps = torch.zeros_like(x)
    total = torch.zeros((1, 1, height, width), device=x.device)
    rows, cols = _starts(height, tile, overlap), _starts(width, tile, overlap)
    for top in rows:
        for left in cols:
            th, tw = min(tile, height), min(tile, width)
            window = (slice(None), slice(None), slice(top, top + th), slice(left, left + tw))
            weight = (_ramp(th, overlap, top > 0, top + th < height)[:, None]
                      * _ramp(tw, overlap, left > 0, left + tw < width)[None, :]).to(x.device)
            cond = None if condition is None else condition[window]
            eps[window] += run(x[window], cond) * weight
            total[window] += weight
    return eps / total


def _predict_with_pull(model: StarterModel, x: torch.Tensor, t: int, a: float, known: torch.Tensor,
                       keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ε for x, and the manifold constraint's pull (MCG, Chung et al. 2022): the gradient with respect to x_t of
    ‖known − x̂0(x_t)‖ over the known region, i.e. how x_t should move for its denoised estimate to agree with the
    pixels around the hole. The norm, not its square, as DPS normalises it, so the step size is scale-free."""
    with torch.inference_mode(False), torch.enable_grad():  # autograd even where a caller turned it off
        x = x.detach().clone().requires_grad_(True)
        known, keep = known.clone(), keep.clone()  # normal tensors: inference-mode ones cannot be saved for backward
        eps = _predict(model, x, t, None, None, 0)
        x0 = (x - (1 - a) ** 0.5 * eps) / a ** 0.5
        squared = (keep * (known - x0)).flatten(1).pow(2).sum(dim=1)
        grad = torch.autograd.grad(squared.sum(), x)[0]
    norm = squared.detach().sqrt().clamp_min(1e-12).view(-1, 1, 1, 1)  # d‖r‖ = d‖r‖² / 2‖r‖, finite at 0
    return eps.detach(), grad / (2 * norm)


def _sample(model: StarterModel, scheduler, x: torch.Tensor, timesteps, generator: torch.Generator, eta: float, *,
            known: torch.Tensor | None = None, keep: torch.Tensor | None = None, resample: int = 1,
            consistency: float = 0.0, condition: torch.Tensor | None = None, to_picture=lambda x0: x0,
            tile: int | None = None, overlap: int = 32, callback: Callback | None = None,
            interrupt: Interrupt | None = None) -> torch.Tensor:
    """The shared loop: DDIM steps, with the known region re-imposed (and resampling) when `keep` is given, and
    each step also pulled `consistency` along the manifold constraint's gradient when that is above 0."""
    total = len(timesteps)
    for i, t in enumerate(timesteps):
        t = int(t)
        a = _alpha(scheduler, t)
        for attempt in range(max(1, resample) if keep is not None else 1):
            if interrupt is not None:
                interrupt()
            pull = None
            if keep is not None:
                noised = a ** 0.5 * known + (1 - a) ** 0.5 * _noise(known.shape, generator, known)
                x = keep * noised + (1 - keep) * x
            if keep is not None and consistency > 0:
                eps, pull = _predict_with_pull(model, x, t, a, known, keep)
            else:
                eps = _predict(model, x, t, condition, tile, overlap)
            variance_noise = _noise(x.shape, generator, x) if eta > 0 else None
            out = scheduler.step(eps, t, x, eta=eta, variance_noise=variance_noise)
            previous = out.prev_sample if pull is None else out.prev_sample - consistency * pull
            if attempt + 1 < resample and keep is not None:  # back from the previous level to t, then again
                ratio = a / _alpha(scheduler, _previous(scheduler, t))
                x = ratio ** 0.5 * previous + (1 - ratio) ** 0.5 * _noise(x.shape, generator, x)
        # the last step lands on the denoised estimate itself, whatever timestep the spacing ends on
        x = previous if i + 1 < total else out.pred_original_sample
        if callback is not None:
            callback({"i": i, "total": total, "t": t, "denoised": to_picture(out.pred_original_sample[:1])})
    return x


def _defaults(model: StarterModel, task: str, steps, eta):
    sampling = model.info.get("sampling", {}).get(task, {})
    return int(steps or sampling.get("steps", 50)), float(sampling.get("eta", 1.0) if eta is None else eta), sampling


def _require(model: StarterModel, kind: str) -> None:
    if model.kind != kind:
        raise ValueError(f"this task needs a {kind} model, not {model.kind}")


@torch.no_grad()
def inpaint(model: StarterModel, picture: np.ndarray, mask: np.ndarray, *, steps: int | None = None, seed: int = 0,
            eta: float | None = None, resample: int | None = None, consistency: float | None = None,
            spacing: str | None = None, samples: int | None = None, callback: Callback | None = None,
            interrupt: Interrupt | None = None) -> np.ndarray:
    """Fill the masked region of `picture` (any nonzero mask pixel) with the unconditional model. `consistency`
    above 0 adds the manifold constraint's pull at that step size (MCG); `samples` > 1 averages that many
    independent fills (an estimate of the posterior mean: smoother, better PSNR). Settings left out come from the
    model's own choice (studio-starter.json's sampling.inpaint)."""
    _require(model, KIND_UNCONDITIONAL)
    steps, eta, sampling = _defaults(model, "inpaint", steps, eta)
    resample = int(resample or sampling.get("resample", 1))
    consistency = float(sampling.get("consistency", 0.0) if consistency is None else consistency)
    samples = int(samples or sampling.get("samples", 1))
    region = _region(mask, picture.shape[:2])
    if not region.any():
        return picture.copy()
    known, size = pad_to_multiple(to_unit(picture, model.device), model.multiple)
    hole = torch.from_numpy(region.astype(np.float32))[None, None].to(model.device)
    hole = torch.nn.functional.pad(hole, (0, known.shape[-1] - size[1], 0, known.shape[-2] - size[0]))
    keep = 1.0 - hole
    generator = torch.Generator().manual_seed(seed)
    scheduler = _scheduler(model, steps, spacing or sampling.get("spacing", "trailing"))
    known = known.expand(samples, -1, -1, -1)
    x = _noise(known.shape, generator, known)
    x = _sample(model, scheduler, x, scheduler.timesteps, generator, eta, known=known, keep=keep, resample=resample,
                consistency=consistency, callback=callback, interrupt=interrupt)
    filled = (keep * known + hole * x).mean(dim=0, keepdim=True)[..., :size[0], :size[1]]
    return np.where(region[..., None], from_unit(filled), picture)


@torch.no_grad()
def sdedit(model: StarterModel, picture: np.ndarray, *, strength: float = 0.5, steps: int | None = None, seed: int = 0,
           eta: float | None = None, mask: np.ndarray | None = None, callback: Callback | None = None,
           interrupt: Interrupt | None = None) -> np.ndarray:
    """Noise `picture` to `strength` (0 keeps it, 1 starts from pure noise) and denoise it back; with a mask, only the
    masked region changes (the rest is re-imposed every step and kept exactly)."""
    _require(model, KIND_UNCONDITIONAL)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    steps, eta, _ = _defaults(model, "sdedit", steps, eta)
    region = _region(mask, picture.shape[:2])
    start = min(steps, int(round(steps * strength)))
    if start == 0 or (region is not None and not region.any()):
        return picture.copy()
    source, size = pad_to_multiple(to_unit(picture, model.device), model.multiple)
    keep = None
    if region is not None:
        hole = torch.from_numpy(region.astype(np.float32))[None, None].to(model.device)
        keep = 1.0 - torch.nn.functional.pad(hole, (0, source.shape[-1] - size[1], 0, source.shape[-2] - size[0]))
    generator = torch.Generator().manual_seed(seed)
    scheduler = _scheduler(model, steps)
    timesteps = scheduler.timesteps[steps - start:]
    x = scheduler.add_noise(source, _noise(source.shape, generator, source), timesteps[:1])
    x = _sample(model, scheduler, x, timesteps, generator, eta, known=source, keep=keep, callback=callback,
                interrupt=interrupt)
    result = from_unit(x[..., :size[0], :size[1]])
    return result if region is None else np.where(region[..., None], result, picture)


@torch.no_grad()
def upscale(model: StarterModel, picture: np.ndarray, *, steps: int | None = None, seed: int = 0,
            eta: float | None = None, tile: int | None = 256, overlap: int = 32, samples: int | None = None,
            strength: float | None = None, callback: Callback | None = None,
            interrupt: Interrupt | None = None) -> np.ndarray:
    """SR3: sample the high-resolution picture (scale × the input) conditioned on its bicubic upsample. Pictures
    larger than `tile` output pixels are denoised in overlapping tiles blended at every step (memory stays flat).
    `samples` > 1 averages that many independent samples (the posterior mean: more faithful, less crisp).
    `strength` below 1 starts that far into the schedule from the bicubic upsample itself (a zero residual, noised
    to that level), as Chung et al.'s "come closer, diffuse faster": fewer steps, less invented texture. Both
    default to the model's own choice (studio-starter.json's sampling.upscale), else 1."""
    _require(model, KIND_SR)
    steps, eta, sampling = _defaults(model, "upscale", steps, eta)
    samples = int(samples or sampling.get("samples", 1))
    strength = float(sampling.get("strength", 1.0) if strength is None else strength)
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be above 0 and at most 1, got {strength}")
    scale = int(model.scale)
    low = to_unit(picture, model.device)
    height, width = picture.shape[0] * scale, picture.shape[1] * scale
    condition, size = pad_to_multiple(bicubic_up(low, (height, width)), model.multiple)
    condition = condition.expand(samples, -1, -1, -1)
    if tile is not None:
        tile = max(model.multiple, tile // model.multiple * model.multiple)
        overlap = min(overlap, tile // 4)
    generator = torch.Generator().manual_seed(seed)
    scheduler = _scheduler(model, steps)
    start = max(1, min(steps, int(round(steps * strength))))
    timesteps = scheduler.timesteps[steps - start:]
    x = _noise(condition.shape, generator, condition)
    if start < steps:  # the zero residual noised to the first timestep: only its noise part is left
        x = x * (1.0 - _alpha(scheduler, int(timesteps[0]))) ** 0.5

    def to_picture(x0):
        return (condition + x0 / model.residual_scale).clamp(-1, 1)

    x = _sample(model, scheduler, x, timesteps, generator, eta, condition=condition, to_picture=to_picture,
                tile=tile, overlap=overlap, callback=callback, interrupt=interrupt)
    return from_unit(to_picture(x).mean(dim=0, keepdim=True)[..., :size[0], :size[1]])
