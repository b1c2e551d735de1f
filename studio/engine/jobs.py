"""Running a recipe: inputs loaded and checked, one result per variation, each with its full metadata."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import diffusers
import numpy as np
import torch

import studio
from studio.core.cancel import CancelToken
from studio.core.errors import StudioError
from studio.core.hashing import model_hash
from studio.core.images import load_image, load_mask, pixel_hash
from studio.core.metadata import ResultMetadata
from studio.core.recipe import Recipe
from studio.engine.control_generate import control_generate
from studio.engine.controlnet import prepare_controls
from studio.engine.inpaint import inpaint
from studio.engine.embeddings import embedding_hashes
from studio.engine.hires_fix import with_hires_fix
from studio.engine.seamless import seamless
from studio.engine.loras import apply_loras, lora_hashes
from studio.engine.memory import is_host_out_of_memory, is_out_of_memory
from studio.engine.model_store import ModelStore
from studio.engine.sd_upscale import sd_upscale
from studio.engine.sdedit import sdedit
from studio.engine.starter_tasks import STARTER_RUNNERS
from studio.engine.task import TaskCall
from studio.engine.upscale import upscale
from studio.engine.progress import ProgressCallback
from studio.engine.plugin_adapters import check_recipe_plugins
from studio.engine.samplers import sampler_label
from studio.plugins import plugin_provenance

TASK_RUNNERS = {"inpaint": inpaint, "sdedit": sdedit, "upscale": upscale, "controlnet": control_generate}
TASK_MODEL_KINDS = {"inpaint": "pipeline", "sdedit": "pipeline", "upscale": "upscaler", "controlnet": "pipeline"}
OTHER_MODEL_RUNNERS = {("upscale", "pipeline"): sd_upscale}  # a task another kind of model does its own way
KIND_NAMES = {"pipeline": "a Stable Diffusion base model", "upscaler": "an upscaler model", "controlnet": "a ControlNet"}
STARTER_NAMES = {"starter": "the starter photo model (inpaint and SDEdit)", "starter_sr": "the starter upscaler"}


@dataclass
class JobInputs:
    picture: np.ndarray
    mask: np.ndarray | None
    hashes: dict[str, str]
    notices: list[str] = field(default_factory=list)
    control_maps: dict = field(default_factory=dict)  # made once per source and preprocessor, reused by a batch


@dataclass
class JobResult:
    pixels: np.ndarray
    metadata: ResultMetadata
    notices: list[str] = field(default_factory=list)


def inputs_from_arrays(picture: np.ndarray, mask: np.ndarray | None) -> JobInputs:
    hashes = {"image": pixel_hash(picture)}
    if mask is not None:
        hashes["mask"] = pixel_hash(mask)
    return JobInputs(picture, mask, hashes)


def load_inputs(recipe: Recipe) -> JobInputs:
    picture = load_image(recipe.image)
    if not recipe.mask:
        return inputs_from_arrays(picture, None)
    loaded = load_mask(recipe.mask, (picture.shape[1], picture.shape[0]))
    inputs = inputs_from_arrays(picture, loaded.pixels)
    inputs.notices.extend(loaded.notices)
    return inputs


def run_info(store: ModelStore, family: str, recipe: Recipe) -> dict:
    sampler = "DDIM, the starter model's own" if family.startswith("starter") else sampler_label(recipe.sampler)
    return {
        "studio_version": studio.__version__,
        "device": store.device.type,
        "dtype": str(store.dtype).removeprefix("torch."),
        "family": family,
        "sampler_label": sampler,
        "plugins": plugin_provenance(recipe),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": platform.python_version(),
    }


def auto_batch_size(model, recipe: Recipe) -> int:
    """Pictures per forward pass where memory allows: several on a GPU holding the whole model, else one."""
    if model.device.type != "cuda" or model.memory_policy != "gpu" or recipe.task == "upscale" or model.starter:
        return 1  # the starter tasks run one seed at a time: batching them would only tie seeds together
    free, _ = torch.cuda.mem_get_info(model.device)
    side = max(recipe.width or model.native_size, recipe.height or model.native_size)
    per_picture = 0.75e9 * (side / 512) ** 2  # activations of one picture with guidance, SDPA attention, fp16
    return max(1, min(8, recipe.variations, int(free * 0.6 // per_picture)))


class OutOfMemory(StudioError):
    def __init__(self, host: bool = False):
        if host:
            super().__init__("out of memory (RAM): try a smaller size, fewer variations, or smaller tiles when upscaling")
        else:
            super().__init__("out of GPU memory even with sequential offload: try a smaller size or fewer variations")


def _run_with_memory_retry(store: ModelStore, job):
    """Run a job; on out-of-GPU-memory, retry it one memory policy lower until there is none lower. Running out
    of the computer's own memory ends the job at once: offloading to it would only make that worse."""
    while True:
        try:
            return job()
        except MemoryError:
            raise OutOfMemory(host=True) from None
        except RuntimeError as error:
            if is_host_out_of_memory(error):
                raise OutOfMemory(host=True) from None
            if not is_out_of_memory(error):
                raise
            if store.lower_memory_policy() is None:
                raise OutOfMemory() from None


def _fits(recipe: Recipe, model) -> bool:
    """Whether the model can do the task: the task's own kind, or another kind that does it its own way."""
    if model.info.kind == TASK_MODEL_KINDS[recipe.task]:
        return True
    return (recipe.task, model.info.kind) in OTHER_MODEL_RUNNERS and not model.info.starter


def _runner(recipe: Recipe, model):
    """The task function for this model: Stable Diffusion's, the ×4 upscaler's, or the starter models' own."""
    if model.info.kind != TASK_MODEL_KINDS[recipe.task]:  # _fits: a kind with its own way
        return OTHER_MODEL_RUNNERS[recipe.task, model.info.kind]
    if recipe.task == "upscale" and (recipe.upscale_factor or 4.0) != 4.0:
        raise StudioError(f"{model.info.name} upscales ×4 only; other factors need a Stable Diffusion checkpoint "
                          "as the upscale model")
    if not model.info.starter:
        if recipe.task == "upscale":
            _check_x4_upscaler(recipe, model)
        return TASK_RUNNERS[recipe.task]
    if recipe.task not in STARTER_RUNNERS:
        raise StudioError(f"the starter model {model.info.name} does inpainting, SDEdit and upscaling only: "
                          f"{recipe.task} generation needs a Stable Diffusion model")
    if recipe.controlnets:
        raise StudioError(f"ControlNets steer Stable Diffusion models; the starter model {model.info.name} "
                          "cannot use them")
    if recipe.tiling:
        raise StudioError(f"seamless tiling is for Stable Diffusion models; the starter model {model.info.name} "
                          "cannot make one: switch Tiling off")
    if recipe.hires is not None:
        raise StudioError(f"hires fix redraws with a Stable Diffusion checkpoint; the starter model {model.info.name} "
                          "cannot: switch it off, or upscale the result with the starter upscaler")
    if recipe.loras:
        raise StudioError(f"LoRAs adapt Stable Diffusion models; the starter model {model.info.name} cannot use them")
    if recipe.embeddings:
        raise StudioError(f"embeddings are words for Stable Diffusion's text encoder; the starter model "
                          f"{model.info.name} reads no prompt")
    if recipe.clip_skip > 1:
        raise StudioError(f"clip skip picks a layer of Stable Diffusion's CLIP text encoder; the starter model "
                          f"{model.info.name} has none: use clip skip 1")
    return STARTER_RUNNERS[recipe.task]


def _check_x4_upscaler(recipe: Recipe, model) -> None:
    """The ×4 upscaler's text encoder reads prompts (and embeddings), but it is no SD 1.x/2.x/SDXL model."""
    if recipe.loras:
        raise StudioError(f"LoRAs adapt Stable Diffusion 1.x, 2.x and SDXL models; the ×4 upscaler {model.info.name} "
                          "cannot use them (a Stable Diffusion checkpoint as the upscale model can)")
    if recipe.clip_skip > 1:
        raise StudioError(f"the ×4 upscaler {model.info.name} has no clip skip: use 1 (or a Stable Diffusion "
                          "checkpoint as the upscale model)")
    if recipe.controlnets:
        raise StudioError(f"ControlNets steer Stable Diffusion 1.x, 2.x and SDXL models; the ×4 upscaler "
                          f"{model.info.name} cannot use them (a Stable Diffusion checkpoint as the upscale model can)")


def _job_modules(model, controls) -> list[torch.nn.Module]:
    """The networks a job runs: the model's UNet and VAE, and its ControlNets."""
    modules = [model.components[name] for name in ("unet", "vae") if name in model.components]
    return modules + (list(controls.models) if controls is not None else [])


def run_recipe(
    recipe: Recipe,
    store: ModelStore,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    inputs: JobInputs | None = None,
) -> list[JobResult]:
    """Run every variation of a recipe. `inputs` lets a caller that holds the picture and mask in memory
    (the window) pass them directly; otherwise they are read from the recipe's paths."""
    if recipe.task not in TASK_RUNNERS:
        raise StudioError(f"task '{recipe.task}' is not available yet in this version of Studio")
    check_recipe_plugins(recipe)  # an unknown or broken sampler or guidance fails before any loading
    inputs = inputs or load_inputs(recipe)
    model = store.get(recipe.model)
    if not _fits(recipe, model):
        wanted = KIND_NAMES[TASK_MODEL_KINDS[recipe.task]]
        if recipe.task == "upscale":
            wanted += " or a Stable Diffusion checkpoint"
        found = STARTER_NAMES.get(model.family) or KIND_NAMES.get(model.info.kind, model.info.kind)
        raise StudioError(f"task '{recipe.task}' needs {wanted}, but {model.info.name} is {found}")
    runner = _runner(recipe, model)
    if recipe.sweep:
        raise StudioError("a recipe with a sweep runs as a batch (studio run, or the batch export dialog)")
    apply_loras(model, recipe.loras)  # every job: one without LoRAs switches off those an earlier job used
    controls = prepare_controls(recipe, inputs.picture, store.controlnet, inputs.control_maps)
    hashes = dict(inputs.hashes, model=model_hash(recipe.model))
    for index, unit in enumerate(recipe.controlnets):
        hashes[f"controlnet{index}"] = model_hash(unit.model)
    hashes.update(lora_hashes(recipe.loras))
    hashes.update(embedding_hashes(recipe.embeddings))
    info = run_info(store, model.family, recipe)
    results, item = [], 0
    for group in recipe.seed_groups(recipe.batch_size or auto_batch_size(model, recipe)):
        call = TaskCall(model, recipe, inputs.picture, inputs.mask, group, item, recipe.variations, on_progress,
                        cancel, controls)
        with seamless(_job_modules(model, controls) if recipe.tiling else ()):
            pictures = _run_with_memory_retry(store, lambda: with_hires_fix(runner, call))
        batch_seeds = tuple(group) if len(group) > 1 else None
        for seed, pixels in zip(group, pictures):
            if recipe.batch_seeds and seed != recipe.seed:
                continue  # reproducing one picture of a batch: the others were recomputed only to match it
            single = recipe.replace(seed=seed, variations=1, batch_seeds=batch_seeds)
            results.append(JobResult(pixels, ResultMetadata(single, hashes, info), list(inputs.notices)))
        item += len(group)
    return results
