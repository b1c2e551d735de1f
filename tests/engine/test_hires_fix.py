"""Hires fix (A1111's): a generating job's pictures enlarged by the recipe's factor and redrawn at its strength
with the same model, prompts and seed, in tiles; progress counts both passes as one job."""

import numpy as np
import pytest
from PIL import Image

from studio.core.cancel import CancelToken
from studio.core.errors import JobCancelled, StudioError
from studio.core.recipe import parse_recipe
from studio.engine.jobs import inputs_from_arrays, run_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def picture(width=56, height=40):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 2 % 256], axis=2).astype(np.uint8)


def run(store, model, task="sdedit", mask=None, **changes):
    fields = {"task": task, "model": str(model), "image": "p.png", "prompt": "a lighthouse", "steps": 4, "seed": 5,
              "sampler": "euler", "strength": 0.75, "hires": {"factor": 2, "strength": 0.5}}
    if task == "inpaint":
        fields["mask"] = "m.png"
    recipe = parse_recipe({**fields, **changes})
    progress = []
    results = run_recipe(recipe, store, on_progress=progress.append, inputs=inputs_from_arrays(picture(), mask))
    return results, progress


def test_the_result_is_the_first_pass_enlarged_and_redrawn(tiny_model, store):
    model = tiny_model("sd1")
    [plain], _ = run(store, model, hires=None)
    [enlarged], _ = run(store, model, hires={"factor": 2, "strength": 0.0})
    lanczos = np.asarray(Image.fromarray(plain.pixels).resize((112, 80), Image.Resampling.LANCZOS))
    assert np.array_equal(enlarged.pixels, lanczos), "strength 0: exactly the first pass, enlarged"
    [redrawn], _ = run(store, model)
    assert redrawn.pixels.shape == (80, 112, 3) and not np.array_equal(redrawn.pixels, lanczos)
    assert np.array_equal(run(store, model)[0][0].pixels, redrawn.pixels), "a seed gives the same picture"
    assert redrawn.metadata.recipe.hires.factor == 2.0 and redrawn.metadata.recipe.task == "sdedit"


def test_text_to_image_on_a_blank_canvas_gets_its_second_pass(tiny_model, store):
    everything = np.full((40, 56), 255, np.uint8)
    [result], _ = run(store, tiny_model("sd1"), task="inpaint", mask=everything, strength=1.0,
                      hires={"factor": 1.5, "strength": 0.4, "steps": 3})
    assert result.pixels.shape == (64, 80, 3)  # 1.5×, in multiples of 8


def test_progress_counts_both_passes_of_every_picture_as_one_job(tiny_model, store):
    results, progress = run(store, tiny_model("sd1"), variations=2, batch_size=2)
    first = int(4 * 0.75)
    second = int(4 * 0.5)
    assert [p.step for p in progress] == list(range(1, first + 2 * second + 1))
    assert {p.total for p in progress} == {first + 2 * second} and {p.item for p in progress} == {0}
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions)
    assert not np.array_equal(results[0].pixels, results[1].pixels), "each picture has its own seed"


def test_a_picture_of_a_batch_reproduces_with_its_second_pass(tiny_model, store):
    results, _ = run(store, tiny_model("sd1"), variations=2, batch_size=2)
    again = run_recipe(results[1].metadata.recipe, store, inputs=inputs_from_arrays(picture(), None))
    assert np.array_equal(again[0].pixels, results[1].pixels)


def test_cancel_stops_the_second_pass(tiny_model, store):
    cancel = CancelToken()
    seen = []

    def on_progress(p):
        seen.append(p.step)
        if p.step == 4:  # the second pass's first step
            cancel.cancel()

    recipe = parse_recipe({"task": "sdedit", "model": str(tiny_model("sd1")), "image": "p.png", "steps": 4,
                           "strength": 0.75, "sampler": "euler", "hires": {"factor": 2}})
    with pytest.raises(JobCancelled):
        run_recipe(recipe, store, on_progress=on_progress, cancel=cancel, inputs=inputs_from_arrays(picture(), None))
    assert seen[-1] == 4


def test_starter_models_refuse_it_by_name(tiny_model, store):
    with pytest.raises(StudioError, match="hires fix redraws with a Stable Diffusion checkpoint"):
        run(store, tiny_model("starter_photo"))


def test_a_result_too_large_for_studio_is_refused_before_the_first_pass(tiny_model, store, monkeypatch):
    monkeypatch.setattr("studio.engine.sd_upscale.max_picture_pixels", lambda: 100 * 80)
    steps = []
    recipe = parse_recipe({"task": "sdedit", "model": str(tiny_model("sd1")), "image": "p.png", "steps": 2,
                           "sampler": "euler", "hires": {"factor": 2}})
    with pytest.raises(StudioError, match="112 × 80 is larger than Studio handles"):
        run_recipe(recipe, store, on_progress=steps.append, inputs=inputs_from_arrays(picture(), None))
    assert steps == []
