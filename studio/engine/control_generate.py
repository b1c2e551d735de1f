"""ControlNet generation: a new picture from the prompt, steered by control maps, at the picture's size. An
inpainting checkpoint generates it in its inpainting pipeline, with all of the picture masked."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.core.errors import StudioError
from studio.core.regions import plan_region
from studio.engine.inpaint import run_pipeline
from studio.engine.plugin_adapters import build_sampling_pipeline
from studio.engine.task import TaskCall


def control_generate(call: TaskCall) -> list[np.ndarray]:
    controls, picture = call.controls, call.picture
    if controls is None:
        raise StudioError("task 'controlnet' needs at least one ControlNet unit")
    height, width = picture.shape[:2]
    plan = plan_region((width, height), None, "whole", 0, call.model.native_size, call.size)
    if call.model.info.inpaint:  # its UNet also reads a mask: all of the picture is to be painted
        pipe = build_sampling_pipeline(call.model, "inpaint", call.recipe, controlnet=controls.controlnet)
        generated = run_pipeline(
            pipe, call.recipe, call.seeds, call.step_hook(), image=Image.fromarray(plan.cut(picture)),
            mask_image=Image.new("L", plan.size, 255), strength=1.0, width=plan.size[0], height=plan.size[1],
            **controls.pipeline_inputs(plan, "control_image"),
        )
    else:
        pipe = build_sampling_pipeline(call.model, "controlnet", call.recipe, controlnet=controls.controlnet)
        generated = run_pipeline(
            pipe, call.recipe, call.seeds, call.step_hook(),
            width=plan.size[0], height=plan.size[1], **controls.pipeline_inputs(plan, "image"),
        )
    return [plan.put_back(picture, image) for image in generated]
