"""KDiffusionScheduler: a k-diffusion-style function behind a diffusers scheduler's interface, and what happens
when such a function misbehaves."""

import gc
import threading
import time

import pytest
import torch

from studio.engine.kdiffusion import KDiffusionScheduler
from studio.engine.plugin_adapters import sampling_for
from studio.engine.sigmas import NoiseSchedule
from studio.plugins import PluginError, PluginFailed
from studio.testing import conformance
from studio.testing.exact import ExactModel
from studio.testing.loop import denoise
from tests.plugins.test_conformance import k_euler, sampler_manifest


def heun(model, x, sigmas, callback, options):
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        d = (x - model(x, s)) / s
        x_next = x + (s_next - s) * d
        if s_next > 0:
            x_next = x + (s_next - s) * 0.5 * (d + (x_next - model(x_next, s_next)) / s_next)
        x = x_next
        callback({"i": i})
    return x


def churn(model, x, sigmas, callback, options):
    """Evaluates above each step's sigma, by an amount that depends on the number of steps (as EDM's churn)."""
    gamma = 1.0 / (len(sigmas) - 1)
    for i in range(len(sigmas) - 1):
        s_hat = sigmas[i] * (1 + gamma)
        x = x + (s_hat**2 - sigmas[i] ** 2) ** 0.5 * options.noise(x)
        x = x + (sigmas[i + 1] - s_hat) * (x - model(x, s_hat)) / s_hat
        callback({"i": i})
    return x


def run(registry, name, function, steps=6, samples=64, strength=1.0, **manifest):
    registry.register(sampler_manifest(name, **manifest), function)
    config = conformance.sd_scheduler_config()
    model = ExactModel(NoiseSchedule.from_config(config), conformance.GAUSSIAN)
    sampling = sampling_for(config, model, name, {}, "cfg", {}, 1.0, registry)
    generator = torch.Generator().manual_seed(0)
    return sampling, denoise(sampling, conformance.GAUSSIAN.sample(samples, generator), steps, generator, strength=strength)


def sampler_threads():
    return [t for t in threading.enumerate() if t.name.startswith("sampler-")]


def test_timesteps_list_every_evaluation_and_order_counts_them_per_step(registry):
    sampling, out = run(registry, "k_heun", heun, steps=5)
    scheduler = sampling.scheduler
    assert isinstance(scheduler, KDiffusionScheduler)
    assert len(scheduler.timesteps) == 2 * 5 - 1 and scheduler.order == 2
    assert sampling.unet.unet.evaluations == 9 and out.shape == (64, 2)
    sampling, _ = run(registry, "k_euler", k_euler, steps=5)
    assert len(sampling.scheduler.timesteps) == 5 and sampling.scheduler.order == 1


def test_starting_part_way_replans_the_evaluations_in_the_pipelines_slice(registry):
    registry.register(sampler_manifest("k_churn", stochastic=True), churn)
    config = conformance.sd_scheduler_config()
    model = ExactModel(NoiseSchedule.from_config(config), conformance.GAUSSIAN)
    scheduler = sampling_for(config, model, "k_churn", {}, "cfg", {}, 1.0, registry).scheduler
    scheduler.set_timesteps(8)
    tail = scheduler.timesteps[4:]  # what an img2img pipeline keeps (a view), before set_begin_index
    before = tail.clone()
    scheduler.set_begin_index(4)
    assert not torch.equal(before, tail)  # gamma is now 1/4, not 1/8
    schedule = NoiseSchedule.from_config(config)
    assert abs(schedule.sigma_at(float(tail[0])) - float(scheduler.sigmas[4]) * 1.25) < 1e-3 * float(scheduler.sigmas[4])
    _, out = run(registry, "k_churn2", churn, steps=8, strength=0.5, stochastic=True)
    assert torch.isfinite(out).all()


def test_a_sampler_that_raises_fails_the_job_and_is_disabled(registry):
    def explodes(model, x, sigmas, callback, options):
        x = model(x, sigmas[0])
        if x.shape[0] > 1:  # not in the dry run
            raise RuntimeError("boom")
        return k_euler(model, x, sigmas[1:], callback, options)

    with pytest.raises(PluginFailed, match="the sampler plugin 'explodes' failed and has been disabled: raised RuntimeError: boom"):
        run(registry, "explodes", explodes)
    with pytest.raises(PluginError, match="disabled after it failed: raised RuntimeError: boom"):
        registry.get("sampler", "explodes")


def test_a_sampler_that_asks_for_unannounced_noise_levels_fails(registry):
    def wanders(model, x, sigmas, callback, options):
        wobble = 1.0 + 0.1 * float(x.abs().max() > 0)  # the dry run's x is zero
        for i in range(len(sigmas) - 1):
            x = x + (sigmas[i + 1] - sigmas[i]) * (x - model(x, sigmas[i] * wobble)) / sigmas[i]
            callback({"i": i})
        return x

    with pytest.raises(PluginFailed, match="asked for the model at sigma .* where its dry run asked for"):
        run(registry, "wanders", wanders)


def test_a_sampler_that_returns_the_wrong_shape_fails(registry):
    def flattens(model, x, sigmas, callback, options):
        return k_euler(model, x, sigmas, callback, options).flatten()

    with pytest.raises(PluginFailed, match="returned latents of shape"):
        run(registry, "flattens", flattens)


def test_a_sampler_that_stops_early_fails(registry):
    def short(model, x, sigmas, callback, options):
        if float(x.abs().max()) > 0:
            return model(x, sigmas[0])
        return k_euler(model, x, sigmas, callback, options)

    with pytest.raises(PluginFailed, match="finished after 1 model evaluations, but announced 6"):
        run(registry, "short", short)


def test_a_job_ended_early_stops_the_sampler_thread(registry):
    registry.register(sampler_manifest("k_euler_stop"), k_euler)
    config = conformance.sd_scheduler_config()
    model = ExactModel(NoiseSchedule.from_config(config), conformance.GAUSSIAN)
    scheduler = sampling_for(config, model, "k_euler_stop", {}, "cfg", {}, 1.0, registry).scheduler
    scheduler.set_timesteps(10)
    latents = torch.randn(4, 2, 1, 1) * scheduler.init_noise_sigma
    t = scheduler.timesteps[0]
    scheduler.scale_model_input(latents, t)
    scheduler.step(torch.zeros_like(latents), t, latents)
    assert sampler_threads()
    del scheduler  # the pipeline is dropped, as after a cancel
    gc.collect()
    deadline = time.time() + 5
    while sampler_threads() and time.time() < deadline:
        time.sleep(0.05)
    assert not sampler_threads()
