"""The cases `studio bench` measures, each run two ways on the same weights and seed:

- **studio**: a recipe through `jobs.run_recipe`, the code path of the window and `studio run` (pictures in memory
  through `inputs_from_arrays`, no step previews);
- **stock**: the plain diffusers pipeline class with its default settings, built around the same component
  objects with the same scheduler, given exactly the inputs Studio's task function gives its pipeline.

Timing: CUDA events around each call after `torch.cuda.synchronize` (wall clock on the CPU); the first call of each
shape is the warm-up (compilation, cuDNN autotuning, CUDA-graph recording) and is reported apart from the steady
calls that follow. Peak memory: `torch.cuda.max_memory_allocated`, reset before each call (weights included).
"""

from __future__ import annotations

import statistics
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import diffusers
import numpy as np
import torch
from PIL import Image

from studio.core.masks import composite, refine
from studio.core.recipe import Recipe, parse_recipe
from studio.core.regions import plan_region
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.engine.memory import is_out_of_memory
from studio.engine.pipelines import assemble_pipeline
from studio.engine.samplers import make_scheduler
from studio.engine.upscale import SCALE, _pad_to_multiple

PROMPT = "a photograph of a red fox in fresh snow, detailed fur, soft morning light"
NEGATIVE = "blurry, low quality"
GIB = 2**30
SDEDIT_STRENGTH = 0.75
NOISE_LEVEL = 20


# measuring ------------------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float, int | None]:
    """(result, milliseconds, peak bytes allocated during the call or None off CUDA)."""
    if device.type != "cuda":
        start = time.perf_counter()
        result = fn()
        return result, (time.perf_counter() - start) * 1000, None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    result = fn()
    end.record()
    torch.cuda.synchronize(device)
    return result, begin.elapsed_time(end), torch.cuda.max_memory_allocated(device)


@dataclass
class Measured:
    warmup_ms: float | None
    runs_ms: list[float]
    peak_bytes: int | None
    output: Any  # the result of the first call

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)


def measure(fn: Callable[[], Any], device: torch.device, repeats: int, warm_up: bool = True) -> Measured:
    """A warm-up call (unless the shape already ran), then `repeats` steady calls."""
    warmup_ms, output, peaks = None, None, []
    if warm_up:
        output, warmup_ms, peak = timed(fn, device)
        peaks.append(peak)
    runs = []
    for _ in range(max(1, repeats)):
        result, ms, peak = timed(fn, device)
        output = result if output is None else output
        runs.append(ms)
        peaks.append(peak)
    known = [p for p in peaks if p is not None]
    return Measured(warmup_ms, runs, max(known) if known else None, output)


def seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def gib(value: int | None) -> float | None:
    return None if value is None else round(value / GIB, 3)


def failure(error: BaseException, device: torch.device) -> dict:
    """What a case reports when it fails (out of memory is a result for stock at 4096², not a crash)."""
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    reason = "out of memory" if is_out_of_memory(error) or isinstance(error, MemoryError) else f"{type(error).__name__}: {error}"
    return {"error": reason.splitlines()[0][:300], "peak_gib": gib(peak)}


def run_guarded(fn: Callable[[], dict], device: torch.device) -> dict:
    """A case's result, or what went wrong: one failing case must not cost the other results of a GPU session."""
    try:
        return fn()
    except Exception as error:  # noqa: BLE001: reported in the results, with the traceback on stderr
        if not is_out_of_memory(error):
            traceback.print_exc()
        return failure(error, device)
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()


# inputs ---------------------------------------------------------------------------------------------------------


def bench_picture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Gradients, a disc and noise: content for the VAE and the ControlNet (a control map here) to work on."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    disc = ((x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2) * 120
    base = np.stack([x * 255 / max(width - 1, 1), y * 255 / max(height - 1, 1), disc + 60], axis=2)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def bench_mask(width: int, height: int) -> np.ndarray:
    """A hard-edged box over the middle half of the picture."""
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
    return mask


def to_uint8(images) -> list[np.ndarray]:
    """A pipeline's np output, converted as engine/inpaint.run_pipeline converts it."""
    return [(np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8) for image in images]


def agreement(studio: np.ndarray, stock: np.ndarray, region: np.ndarray | None = None) -> dict:
    """Differences in 0–255 levels over `region` (True where compared), PSNR in dB (None: identical)."""
    a, b = studio.astype(np.float64), stock.astype(np.float64)
    if region is not None:
        a, b = a[region], b[region]
    if a.shape != b.shape or a.size == 0:
        return {"error": f"shapes differ: {studio.shape} and {stock.shape}"}
    difference = np.abs(a - b)
    finite = np.isfinite(difference)
    mse = float((difference[finite] ** 2).mean()) if finite.any() else float("nan")
    return {
        "max_abs": float(difference.max()),
        "mean_abs": round(float(difference.mean()), 4),
        "psnr_db": None if mse == 0 else round(float(10 * np.log10(255.0**2 / mse)), 2),
        "compared_values": int(a.size),
    }


# sampling cases: inpaint, sdedit, controlnet -------------------------------------------------------------------


@dataclass
class SamplingCase:
    """One sampling task on one model at one size, with the settings every run of it shares."""

    name: str  # "inpaint" | "sdedit" | "controlnet"
    family: str
    model_key: str  # in the BenchStore
    controlnet_key: str | None
    side: int
    steps: int
    guidance: float
    sampler: str
    seed: int

    @property
    def strength(self) -> float:
        return SDEDIT_STRENGTH if self.name == "sdedit" else 1.0

    def recipe(self, **changes) -> Recipe:
        data = {
            "task": self.name, "model": self.model_key, "image": "bench-picture.png", "prompt": PROMPT,
            "negative_prompt": NEGATIVE, "steps": self.steps, "guidance": self.guidance, "sampler": self.sampler,
            "seed": self.seed, "strength": self.strength, "width": self.side, "height": self.side, "batch_size": 1,
        }
        if self.name == "inpaint":
            data["mask"] = "bench-mask.png"
        if self.controlnet_key:
            data["controlnets"] = [{"model": self.controlnet_key, "preprocessor": "none"}]
        return parse_recipe({**data, **changes})

    def inputs(self):
        picture = bench_picture(self.side, self.side, self.seed)
        mask = bench_mask(self.side, self.side) if self.name == "inpaint" else None
        return inputs_from_arrays(picture, mask)

    def compared_region(self, inputs) -> np.ndarray | None:
        """Where Studio's output is the pipeline's (inpainting composites the rest from the input)."""
        if self.name != "inpaint":
            return None
        return refine(inputs.mask, 0, 0.0) >= 255


def stock_pipeline(model, task: str, scheduler, controlnet=None):
    """The task's diffusers pipeline class with its default settings around the model's components."""
    return assemble_pipeline(model, task, scheduler, controlnet)


def stock_call(case: SamplingCase, store, inputs) -> Callable[[int], tuple[np.ndarray, int]]:
    """seed -> (picture as Studio would return it, denoising steps run): the stock pipeline given exactly what
    Studio's task function gives its pipeline (same mask refinement, region plan, control map)."""
    model = store.get(case.model_key)
    recipe = case.recipe()
    controlnet = store.controlnet(case.controlnet_key) if case.controlnet_key else None
    task = "controlnet" if case.name == "controlnet" else case.name
    pipe = stock_pipeline(model, task, make_scheduler(recipe.sampler, model.scheduler_config), controlnet)
    picture, mask = inputs.picture, inputs.mask
    height, width = picture.shape[:2]
    size = (recipe.width, recipe.height)
    if case.name == "inpaint":
        effective = refine(mask, recipe.mask_grow, recipe.mask_feather)
        plan = plan_region((width, height), effective, recipe.inpaint_area, recipe.mask_padding, model.native_size, size)
        extra = {"image": Image.fromarray(plan.cut(picture)),
                 "mask_image": Image.fromarray(plan.cut(effective, Image.Resampling.BILINEAR)),
                 "strength": recipe.strength, "width": plan.size[0], "height": plan.size[1]}
    elif case.name == "sdedit":
        plan = plan_region((width, height), None, "whole", recipe.mask_padding, model.native_size, size)
        extra = {"image": Image.fromarray(plan.cut(picture)), "strength": recipe.strength}
    else:
        plan = plan_region((width, height), None, "whole", 0, model.native_size, size)
        extra = {"image": Image.fromarray(plan.cut(picture)), "width": plan.size[0], "height": plan.size[1],
                 "controlnet_conditioning_scale": 1.0, "control_guidance_start": 0.0, "control_guidance_end": 1.0}

    def call(seed: int) -> tuple[np.ndarray, int]:
        output = pipe(
            prompt=recipe.prompt, negative_prompt=recipe.negative_prompt or None, num_inference_steps=recipe.steps,
            guidance_scale=recipe.guidance, generator=[torch.Generator(device="cpu").manual_seed(seed)],
            num_images_per_prompt=1, output_type="np", **extra,
        )
        generated = plan.put_back(picture, to_uint8(output.images)[0])
        if case.name == "inpaint":
            generated = composite(picture, generated, effective)
        return generated, pipe.num_timesteps

    return call


def studio_call(case: SamplingCase, store, inputs, variations: int = 1, batch_size: int = 1) -> Callable[[], list]:
    recipe = case.recipe(variations=variations, batch_size=batch_size)
    return lambda: [result.pixels for result in run_recipe(recipe, store, inputs=inputs)]


def measure_stock(case: SamplingCase, store, device, repeats: int, batch: int,
                  batch_repeats: int) -> tuple[dict, np.ndarray, int]:
    inputs = case.inputs()
    call = stock_call(case, store, inputs)
    single = measure(lambda: call(case.seed), device, repeats)
    picture, steps = single.output
    row = {"warmup_s": round(single.warmup_ms / 1000, 3), "total_ms": round(single.median_ms, 2),
           "runs_ms": [round(ms, 2) for ms in single.runs_ms], "steps_run": steps,
           "ms_per_step": round(single.median_ms / steps, 3), "peak_gib": gib(single.peak_bytes)}
    if batch > 1:  # one picture after another, as a stock script makes variations
        many = measure(lambda: [call(case.seed + i) for i in range(batch)], device, batch_repeats, warm_up=False)
        row["batch"] = {"pictures": batch, "total_s": round(many.median_ms / 1000, 3),
                        "pictures_per_s": round(batch * 1000 / many.median_ms, 4), "peak_gib": gib(many.peak_bytes),
                        "forward_batch": 1}
    return row, picture, steps


def measure_studio(case: SamplingCase, store, device, repeats: int, batch: int, batch_repeats: int,
                   batch_size: int, steps: int) -> tuple[dict, np.ndarray]:
    inputs = case.inputs()
    single = measure(studio_call(case, store, inputs), device, repeats)
    row = {"warmup_s": round(single.warmup_ms / 1000, 3), "total_ms": round(single.median_ms, 2),
           "runs_ms": [round(ms, 2) for ms in single.runs_ms], "steps_run": steps,
           "ms_per_step": round(single.median_ms / steps, 3), "peak_gib": gib(single.peak_bytes)}
    if batch > 1:
        many = measure(studio_call(case, store, inputs, batch, batch_size), device, batch_repeats)
        row["batch"] = {"pictures": batch, "total_s": round(many.median_ms / 1000, 3),
                        "pictures_per_s": round(batch * 1000 / many.median_ms, 4), "peak_gib": gib(many.peak_bytes),
                        "warmup_s": round(many.warmup_ms / 1000, 3), "forward_batch": batch_size or "auto"}
    return row, single.output[0]


def task_switch_ms(case: SamplingCase, store, device, repeats: int = 3) -> float:
    """Assembling the task's pipeline around the loaded model: all that switching task costs (no weights load)."""
    from studio.engine.plugin_adapters import build_sampling_pipeline

    model = store.get(case.model_key)
    controlnet = store.controlnet(case.controlnet_key) if case.controlnet_key else None
    recipe = case.recipe()
    task = "controlnet" if case.name == "controlnet" else case.name
    runs = [timed(lambda: build_sampling_pipeline(model, task, recipe, controlnet=controlnet), device)[1]
            for _ in range(repeats)]
    return round(statistics.median(runs), 3)


# upscaling --------------------------------------------------------------------------------------------------------


@dataclass
class UpscaleCase:
    name: str  # "upscale" | "upscale_4k"
    model_key: str
    side: int  # input side; the output is 4× that
    steps: int
    guidance: float
    sampler: str
    seed: int
    tile_size: int
    tile_overlap: int

    def recipe(self) -> Recipe:
        return parse_recipe({
            "task": "upscale", "model": self.model_key, "image": "bench-picture.png", "prompt": PROMPT,
            "negative_prompt": NEGATIVE, "steps": self.steps, "guidance": self.guidance, "sampler": self.sampler,
            "seed": self.seed, "noise_level": NOISE_LEVEL, "tile_size": self.tile_size,
            "tile_overlap": self.tile_overlap, "batch_size": 1,
        })

    def inputs(self):
        return inputs_from_arrays(bench_picture(self.side, self.side, self.seed), None)


def stock_upscale_call(case: UpscaleCase, store, inputs) -> Callable[[], np.ndarray]:
    """StableDiffusionUpscalePipeline as diffusers ships it: the whole latent at once, VAE untiled."""
    model = store.get(case.model_key)
    recipe = case.recipe()
    parts = dict(model.components)
    parts["vae"].disable_tiling()
    pipe = diffusers.StableDiffusionUpscalePipeline(**parts, scheduler=make_scheduler(recipe.sampler, model.scheduler_config))
    pipe.set_progress_bar_config(disable=True)
    picture = inputs.picture
    height, width = picture.shape[:2]

    def call() -> np.ndarray:
        output = pipe(prompt=recipe.prompt, negative_prompt=recipe.negative_prompt or None,
                      image=Image.fromarray(_pad_to_multiple(picture)), num_inference_steps=recipe.steps,
                      guidance_scale=recipe.guidance, noise_level=recipe.noise_level,
                      generator=torch.Generator(device="cpu").manual_seed(recipe.seed), output_type="np")
        return to_uint8(output.images)[0][: height * SCALE, : width * SCALE]

    return call


def measure_upscale(case: UpscaleCase, store, device, repeats: int, stock: bool,
                    warm_up: bool = True) -> tuple[dict, np.ndarray]:
    inputs = case.inputs()
    if stock:
        call = stock_upscale_call(case, store, inputs)
    else:
        recipe = case.recipe()
        call = lambda: run_recipe(recipe, store, inputs=inputs)[0].pixels  # noqa: E731
    measured = measure(call, device, repeats, warm_up)
    row = {"warmup_s": seconds(measured.warmup_ms), "total_ms": round(measured.median_ms, 2),
           "runs_ms": [round(ms, 2) for ms in measured.runs_ms], "steps_run": case.steps,
           "ms_per_step": round(measured.median_ms / case.steps, 3), "peak_gib": gib(measured.peak_bytes)}
    return row, measured.output


# decoding ---------------------------------------------------------------------------------------------------------


def bench_latents(vae, side: int, seed: int, device, dtype) -> torch.Tensor:
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    latents = torch.randn((1, vae.config.latent_channels, side // factor, side // factor), generator=generator)
    return latents.to(device=device, dtype=dtype)


def measure_decode(vae, latents: torch.Tensor, device, repeats: int, warm_up: bool = True) -> tuple[dict, np.ndarray]:
    def decode() -> np.ndarray:
        with torch.inference_mode():
            image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]
        image = (image[0].float() / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        return to_uint8([image])[0]

    measured = measure(decode, device, repeats, warm_up)
    return ({"warmup_s": seconds(measured.warmup_ms), "total_ms": round(measured.median_ms, 2),
             "runs_ms": [round(ms, 2) for ms in measured.runs_ms], "peak_gib": gib(measured.peak_bytes)},
            measured.output)
