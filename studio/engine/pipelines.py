"""diffusers pipelines assembled around one loaded model's components: switching task reloads no weights."""

from __future__ import annotations

import diffusers

from studio.engine.loading import LoadedModel

PIPELINE_CLASSES = {
    ("inpaint", False): "StableDiffusionInpaintPipeline",
    ("inpaint", True): "StableDiffusionXLInpaintPipeline",
    ("sdedit", False): "StableDiffusionImg2ImgPipeline",
    ("sdedit", True): "StableDiffusionXLImg2ImgPipeline",
    ("text2img", False): "StableDiffusionPipeline",
    ("text2img", True): "StableDiffusionXLPipeline",
}


def build_pipeline(model: LoadedModel, task: str, scheduler):
    xl = model.family.startswith("sdxl")
    cls = getattr(diffusers, PIPELINE_CLASSES[(task, xl)])
    parts = dict(model.components, scheduler=scheduler)
    if xl:
        options = {"force_zeros_for_empty_prompt": False} if task == "inpaint" else {}
        if task in ("inpaint", "sdedit"):
            options["requires_aesthetics_score"] = False
        pipe = cls(**parts, **options)
    else:
        pipe = cls(**parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe
