"""Plugins inside real jobs: stock diffusers pipelines on tiny real models, with plugin samplers and guidance,
and what a job does when a plugin fails (the job ends with a message naming it, the app carries on)."""

import gc
import threading
import time

import numpy as np
import pytest

from studio.core.cancel import CancelToken
from studio.core.errors import JobCancelled, StudioError
from studio.core.images import load_image
from studio.core.recipe import parse_recipe
from studio.engine.jobs import run_recipe
from studio.plugins import PluginFailed, plugin_provenance
from tests.fixtures.pictures import write_mask, write_picture
from tests.plugins.test_conformance import guidance_manifest, k_euler, sampler_manifest

WIDTH, HEIGHT = 70, 50


@pytest.fixture
def files(tmp_path):
    return write_picture(tmp_path / "p.png", WIDTH, HEIGHT), write_mask(tmp_path / "m.png", WIDTH, HEIGHT, (20, 10, 50, 40))


def recipe(model, files, **changes):
    picture, mask = files
    fields = {"task": "inpaint", "model": str(model), "image": str(picture), "mask": str(mask), "prompt": "a door",
              "steps": 3, "seed": 1, "sampler": "euler", "width": 64, "height": 64}
    return parse_recipe({**fields, **changes})


def test_a_k_diffusion_sampler_plugin_inpaints_and_edits(tiny_model, store, files, job_registry):
    job_registry.register(sampler_manifest("k_euler"), k_euler)
    steps = []
    inpaint = recipe(tiny_model("sd1"), files, sampler="k_euler")  # a 4-channel UNet: the pipeline re-noises the known region
    [result] = run_recipe(inpaint, store, on_progress=lambda p: steps.append((p.step, p.total)))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    original = load_image(files[0])
    outside = np.ones((HEIGHT, WIDTH), bool)
    outside[10:40, 20:50] = False
    assert np.array_equal(result.pixels[outside], original[outside]) and not np.array_equal(result.pixels, original)
    again = run_recipe(inpaint, store)[0].pixels
    assert np.array_equal(again, result.pixels)  # the adapter's noise and threads are deterministic
    edit = recipe(tiny_model("sd1"), files, task="sdedit", mask=None, sampler="k_euler", strength=0.6, steps=5)
    [edited] = run_recipe(edit, store)
    assert edited.pixels.shape == original.shape and not np.array_equal(edited.pixels, original)


@pytest.mark.parametrize("guidance, params", [("cfg_rescale", {"rescale": 0.5}), ("interval", {"sigma_high": 3.0})])
def test_builtin_guidance_types_run_in_jobs(tiny_model, store, files, job_registry, guidance, params):
    [result] = run_recipe(recipe(tiny_model("sd1"), files, guidance_type=guidance, guidance_params=params), store)
    assert result.pixels.shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("guidance, params", [("cfg", {}), ("cfg_rescale", {"rescale": 0.0}),
                                              ("interval", {"sigma_low": 0.0, "sigma_high": 1000.0})])
def test_plain_cfg_runs_the_stock_pipeline_unwrapped_and_exactly(tiny_model, store, files, job_registry, guidance,
                                                                   params):
    """Guidance that is exactly CFG needs no wrapper: the pipeline gets the bare UNet (no per-step conversions,
    no host sync), and the picture is the stock pipeline's own, bit for bit."""
    from studio.engine.pipelines import build_pipeline
    from studio.engine.plugin_adapters import build_sampling_pipeline
    from studio.engine.samplers import make_scheduler

    job = recipe(tiny_model("sd1"), files, guidance_type=guidance, guidance_params=params)
    model = store.get(job.model)
    pipe = build_sampling_pipeline(model, "inpaint", job)
    assert pipe.unet is model.components["unet"]
    [ours] = run_recipe(job, store)
    stock_pipe = build_pipeline(model, "inpaint", make_scheduler(job.sampler, model.scheduler_config))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("studio.engine.inpaint.build_sampling_pipeline", lambda *args, **kwargs: stock_pipe)
        [stock] = run_recipe(job, store)
    assert np.array_equal(ours.pixels, stock.pixels)


def test_other_guidance_keeps_the_guided_wrapper(tiny_model, store, files, job_registry):
    from studio.engine.guidance import GuidedUNet
    from studio.engine.plugin_adapters import build_sampling_pipeline

    job = recipe(tiny_model("sd1"), files, guidance_type="cfg_rescale", guidance_params={"rescale": 0.5})
    assert isinstance(build_sampling_pipeline(store.get(job.model), "inpaint", job).unet, GuidedUNet)


def test_guidance_that_needs_uncond_at_scale_one_gets_it(tiny_model, store, files, job_registry):
    seen = []

    def guide(step):
        seen.append(sorted(step.predictions))
        return step.cond + 0.5 * (step.cond - step.uncond)

    job_registry.register(guidance_manifest("always", neutral_scale=None), guide)
    run_recipe(recipe(tiny_model("sd1"), files, guidance_type="always", guidance=1.0), store)
    assert seen == [["cond", "uncond"]] * 3  # the stock pipeline would have skipped the unconditional pass


def test_a_sampler_plugin_raising_mid_job_fails_the_job_and_the_app_carries_on(tiny_model, store, files, job_registry):
    def fails_later(model, x, sigmas, callback, options):
        for i in range(len(sigmas) - 1):
            if i == 1 and x.numel() > 1:
                raise ValueError("singular matrix")
            x = x + (sigmas[i + 1] - sigmas[i]) * (x - model(x, sigmas[i])) / sigmas[i]
            callback({"i": i})
        return x

    job_registry.register(sampler_manifest("fragile"), fails_later)
    with pytest.raises(PluginFailed) as failure:
        run_recipe(recipe(tiny_model("sd1"), files, sampler="fragile"), store)
    assert isinstance(failure.value, StudioError)
    assert "the sampler plugin 'fragile' failed and has been disabled: raised ValueError: singular matrix" in str(failure.value)
    assert "disabled" in job_registry.find("fragile").status
    with pytest.raises(StudioError, match="'fragile' is disabled"):
        run_recipe(recipe(tiny_model("sd1"), files, sampler="fragile"), store)
    [result] = run_recipe(recipe(tiny_model("sd1"), files), store)  # the next job, with a built-in, works
    assert result.pixels.shape == (HEIGHT, WIDTH, 3)


def test_a_guidance_plugin_returning_the_wrong_shape_is_disabled(tiny_model, store, files, job_registry):
    job_registry.register(guidance_manifest("squashed"), lambda step: step.cond[:, :1])
    with pytest.raises(PluginFailed, match="guidance plugin 'squashed' failed and has been disabled: returned"):
        run_recipe(recipe(tiny_model("sd1"), files, guidance_type="squashed"), store)
    assert not job_registry.find("squashed").enabled


def test_cancelling_a_job_with_a_plugin_sampler_stops_its_thread(tiny_model, store, files, job_registry):
    job_registry.register(sampler_manifest("k_euler_c"), k_euler)
    cancel = CancelToken()
    with pytest.raises(JobCancelled):
        run_recipe(recipe(tiny_model("sd1"), files, sampler="k_euler_c", steps=6), store,
                   on_progress=lambda p: cancel.cancel(), cancel=cancel)
    gc.collect()
    deadline = time.time() + 5
    while any(t.name == "sampler-k_euler_c" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "sampler-k_euler_c" for t in threading.enumerate())


def test_bad_plugin_choices_are_named(tiny_model, store, files, job_registry):
    with pytest.raises(StudioError, match="unknown guidance 'warp'"):
        run_recipe(recipe(tiny_model("sd1"), files, guidance_type="warp"), store)
    with pytest.raises(StudioError, match="plugin 'euler', parameter 'karras': must be true or false"):
        run_recipe(recipe(tiny_model("sd1"), files, sampler_params={"karras": 2}), store)


def test_provenance_of_a_job(tiny_model, files, job_registry):
    job_registry.register({**sampler_manifest("k_euler_p"), "version": "2.0"}, k_euler)
    assert plugin_provenance(recipe(tiny_model("sd1"), files, sampler="k_euler_p", guidance_type="interval")) == {
        "sampler": {"name": "k_euler_p", "version": "2.0", "origin": "session"},
        "guidance": {"name": "interval", "version": job_registry.find("interval").version, "origin": "builtin"},
    }


@pytest.mark.parametrize("controlled", [False, True])  # a ControlNet's residuals are split like the rest
def test_guidance_can_evaluate_the_model_again(tiny_model, store, files, job_registry, controlled):
    differences = []

    def guide(step):
        again = step.model(step.x, "uncond")  # the same point: the same prediction as the batched pass
        differences.append(float((again - step.uncond).abs().max()))
        return step.uncond + step.scale * (step.cond - step.uncond)

    job_registry.register(guidance_manifest("looks_again"), guide)
    units = [{"model": str(tiny_model("controlnet_sd1")), "preprocessor": "canny"}] if controlled else []
    run_recipe(recipe(tiny_model("sd1"), files, guidance_type="looks_again", controlnets=units), store)
    assert len(differences) == 3 and max(differences) < 1e-3


def test_a_k_diffusion_sampler_plugin_upscales_in_tiles(tiny_model, store, job_registry, tmp_path):
    """Sampler plugins reach every task: the ×4 upscaler (v-prediction, a noise-level input, tiled UNet) too."""
    job_registry.register(sampler_manifest("k_euler"), k_euler)
    small = write_picture(tmp_path / "small.png", 32, 24)
    job = parse_recipe({"task": "upscale", "model": str(tiny_model("upscaler")), "image": str(small),
                        "prompt": "sharp", "steps": 3, "seed": 2, "sampler": "k_euler", "tile_size": 16,
                        "tile_overlap": 4})
    steps = []
    [result] = run_recipe(job, store, on_progress=steps.append)
    assert result.pixels.shape == (96, 128, 3) and np.isfinite(result.pixels).all()
    assert {p.step for p in steps} == {1, 2, 3}
    assert result.metadata.run["plugins"]["sampler"]["name"] == "k_euler"


def test_guidance_reads_each_steps_timestep_from_the_schedule_without_a_host_sync(tiny_model, store, files,
                                                                                   job_registry, monkeypatch):
    """The guided wrapper gets sigma from the pipeline's own scheduler's timesteps, copied to the host once, so a
    GPU job keeps queueing kernels ahead instead of waiting at every step."""
    from studio.engine.plugin_adapters import build_sampling_pipeline
    from studio.engine.timestep_values import TimestepValues

    job = recipe(tiny_model("sd1"), files, guidance_type="cfg_rescale", guidance_params={"rescale": 0.5})
    pipe = build_sampling_pipeline(store.get(job.model), "inpaint", job)
    assert pipe.unet.timestep_values.scheduler is pipe.scheduler
    found = []
    lookup = TimestepValues._lookup
    monkeypatch.setattr(TimestepValues, "_lookup", lambda self, t: found.append(lookup(self, t)) or found[-1])
    run_recipe(job, store)
    assert len(found) == 3 and None not in found, found
