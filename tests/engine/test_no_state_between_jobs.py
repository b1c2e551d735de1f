"""A job's pixels never depend on which jobs the loaded model ran before: every task, sampler, guidance type,
clip skip, prompt feature and second pass leaves the shared model as it found it. (`studio run` reproduces a
picture in a fresh process; the window runs many jobs on one loaded model.)"""

import numpy as np
import pytest

from studio.core.recipe import parse_recipe
from studio.engine.jobs import inputs_from_arrays, run_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def picture():
    y, x = np.mgrid[0:48, 0:64]
    return np.stack([x * 4 % 256, y * 5 % 256, (x * y) % 256], axis=2).astype(np.uint8)


def mask():
    region = np.zeros((48, 64), np.uint8)
    region[8:40, 16:48] = 255
    return region


def run(store, model, **fields):
    recipe = parse_recipe({"model": str(model), "image": "p.png", "prompt": "a red boat", "steps": 3, "seed": 4,
                           "sampler": "euler", **fields})
    masked = mask() if fields.get("task") == "inpaint" or fields.get("mask") else None
    return run_recipe(recipe, store, inputs=inputs_from_arrays(picture(), masked))[0].pixels


OTHER_JOBS = {
    "inpaint": {"task": "inpaint", "mask": "m.png"},
    "sd upscale": {"task": "upscale", "upscale_factor": 1.5, "strength": 0.5},
    "hires fix": {"task": "sdedit", "strength": 0.6, "hires": {"factor": 1.5, "strength": 0.4}},
    "guided, another sampler": {"task": "sdedit", "strength": 0.6, "sampler": "dpmpp_2m",
                                "guidance_type": "cfg_rescale", "guidance_params": {"rescale": 0.7}},
    "clip skip, weighted and long prompt": {"task": "sdedit", "strength": 0.6, "clip_skip": 2,
                                            "prompt": "(a red boat:1.3), " + "calm sea, " * 40},
    "seamless tiling": {"task": "sdedit", "strength": 0.6, "tiling": True},
    "variations in a batch": {"task": "sdedit", "strength": 0.6, "variations": 2, "batch_size": 2},
}


def test_an_sdedit_is_the_same_after_any_other_job(tiny_model, store):
    model = tiny_model("sd1")
    reference = {"task": "sdedit", "strength": 0.7}
    first = run(store, model, **reference)
    for name, fields in OTHER_JOBS.items():
        run(store, model, **fields)
        assert np.array_equal(run(store, model, **reference), first), f"changed after: {name}"
