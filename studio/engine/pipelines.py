"""diffusers pipelines assembled around one loaded model's components: switching task reloads no weights."""

from __future__ import annotations

import diffusers

from studio.engine.loading import LoadedModel
from studio.engine.memory import apply_policy
from studio.engine.speed import optimize_pipeline, speed_settings

CONTROLNET_PIPELINE_CLASSES = {
    ("controlnet", False): "StableDiffusionControlNetPipeline",
    ("controlnet", True): "StableDiffusionXLControlNetPipeline",
    ("inpaint", False): "StableDiffusionControlNetInpaintPipeline",
    ("inpaint", True): "StableDiffusionXLControlNetInpaintPipeline",
    ("sdedit", False): "StableDiffusionControlNetImg2ImgPipeline",
    ("sdedit", True): "StableDiffusionXLControlNetImg2ImgPipeline",
}
PIPELINE_CLASSES = {
    ("inpaint", False): "StableDiffusionInpaintPipeline",
    ("inpaint", True): "StableDiffusionXLInpaintPipeline",
    ("sdedit", False): "StableDiffusionImg2ImgPipeline",
    ("sdedit", True): "StableDiffusionXLImg2ImgPipeline",
    ("text2img", False): "StableDiffusionPipeline",
    ("text2img", True): "StableDiffusionXLPipeline",
}


def assemble_pipeline(model: LoadedModel, task: str, scheduler, controlnet=None):
    """The task's stock diffusers pipeline around the model's components (and ControlNets, if any), with the
    options the weights call for (no safety checker or watermark; SDXL inpaint and img2img UNets trained
    without the aesthetic score) and nothing for speed: what `studio bench` compares against."""
    xl = model.family.startswith("sdxl")
    classes = CONTROLNET_PIPELINE_CLASSES if controlnet is not None else PIPELINE_CLASSES
    cls = getattr(diffusers, classes[(task, xl)])
    parts = dict(model.components, scheduler=scheduler)
    if controlnet is not None:
        parts["controlnet"] = controlnet
    if xl:
        options = {"add_watermarker": False}
        if task == "inpaint":
            options["force_zeros_for_empty_prompt"] = False
        if task in ("inpaint", "sdedit"):
            options["requires_aesthetics_score"] = False
        pipe = cls(**parts, **options)
    else:
        pipe = cls(**parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_pipeline(model: LoadedModel, task: str, scheduler, controlnet=None):
    """The stock pipeline with the model's memory policy and speed settings installed."""
    pipe = assemble_pipeline(model, task, scheduler, controlnet)
    apply_policy(pipe, model.memory_policy, model.device)
    optimize_pipeline(pipe, speed_settings(model))  # engine/speed.py: compile, channels_last… (all off on CPU)
    return pipe
