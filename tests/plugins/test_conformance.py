"""The conformance check: every built-in passes, deliberately broken samplers and guidance fail, and the exact
targets are the right ones (ODE vs SDE, consistency models, classifier guidance)."""

import dataclasses

import numpy as np
import pytest
import torch
from diffusers import EulerDiscreteScheduler

from studio.plugins.builtins import BUILTIN_GUIDANCE, BUILTIN_SAMPLERS
from studio.testing import conformance
from studio.testing.conformance import (
    COND_MEAN,
    SHARED_COVARIANCE,
    ConformanceFailure,
    GaussianTarget,
    check_guidance,
    check_sampler,
    interval_target,
)
from studio.testing.exact import ExactModel, GaussianMixture
from studio.engine.sigmas import NoiseSchedule

SAMPLES = 8192  # half the default: the suite stays fast; every built-in also passes at the default (16384)


def sampler_manifest(name, **fields):
    return {"name": name, "kind": "sampler", "version": "0.0.1", "api_version": 1,
            "implementation": "tests.plugins:unused", "style": "k-diffusion", **fields}


def guidance_manifest(name, **fields):
    return {"name": name, "kind": "guidance", "version": "0.0.1", "api_version": 1,
            "implementation": "tests.plugins:unused", **fields}


@pytest.mark.parametrize("sampler", sorted(BUILTIN_SAMPLERS))
def test_every_builtin_sampler_passes(registry, sampler):
    report = check_sampler(sampler, registry=registry, samples=SAMPLES)
    assert report.passed and report.measurements


@pytest.mark.parametrize("guidance", sorted(BUILTIN_GUIDANCE))
def test_every_builtin_guidance_passes(registry, guidance):
    assert check_guidance(guidance, registry=registry, samples=SAMPLES).passed


# k-diffusion-style samplers given as objects ------------------------------------------------------------------------


def k_euler(model, x, sigmas, callback, options):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        x = x + (sigmas[i + 1] - sigmas[i]) * (x - denoised) / sigmas[i]
        callback({"i": i, "x": x, "sigma": sigmas[i], "denoised": denoised})
    return x


def k_euler_wrong_sign(model, x, sigmas, callback, options):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        x = x + (sigmas[i + 1] - sigmas[i]) * (denoised - x) / sigmas[i]
        callback({"i": i})
    return x


def k_euler_ancestral(model, x, sigmas, callback, options, with_noise=True):
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        denoised = model(x, s)
        sigma_up = min(s_next, (s_next**2 * (s**2 - s_next**2) / s**2) ** 0.5)
        sigma_down = (s_next**2 - sigma_up**2) ** 0.5
        x = x + (sigma_down - s) * (x - denoised) / s
        if with_noise and s_next > 0:
            x = x + options.noise(x) * sigma_up
        callback({"i": i})
    return x


def k_euler_ancestral_without_noise(model, x, sigmas, callback, options):
    return k_euler_ancestral(model, x, sigmas, callback, options, with_noise=False)


def test_a_k_diffusion_sampler_passes_through_the_adapter(registry):
    report = check_sampler(sampler_manifest("k_euler"), k_euler, registry=registry, samples=SAMPLES)
    assert report.errors("gaussian/v_prediction")[100] < report.errors("gaussian/v_prediction")[5] / 5


def test_a_k_diffusion_ancestral_sampler_passes(registry):
    check_sampler(sampler_manifest("k_euler_a", stochastic=True), k_euler_ancestral, registry=registry,
                  samples=SAMPLES, mixture=False, prediction_types=("epsilon",))


def test_a_sampler_with_the_wrong_sign_fails(registry):
    with pytest.raises(ConformanceFailure, match="wrong_sign") as failure:
        check_sampler(sampler_manifest("wrong_sign"), k_euler_wrong_sign, registry=registry, mixture=False,
                      prediction_types=("epsilon",), samples=SAMPLES)
    assert "above the tolerance" in str(failure.value)


def test_an_ancestral_sampler_that_forgets_its_noise_fails(registry):
    # A subtle bug: every step looks plausible, but the samples lose variance; only the distribution shows it.
    report = check_sampler(sampler_manifest("no_noise", stochastic=True), k_euler_ancestral_without_noise,
                           registry=registry, raise_on_failure=False, prediction_types=("epsilon",), samples=SAMPLES)
    assert not report.passed
    assert any("gaussian/epsilon: error" in f and "above the tolerance" in f for f in report.failures)


class UnscaledEuler(EulerDiscreteScheduler):
    """Forgets that the model expects x / sqrt(sigma^2 + 1)."""

    def scale_model_input(self, sample, timestep):
        super().scale_model_input(sample, timestep)
        return sample


def test_a_scheduler_with_the_wrong_input_scaling_fails(registry):
    create = lambda config, params: UnscaledEuler.from_config(config)
    with pytest.raises(ConformanceFailure, match="above the tolerance"):
        check_sampler(sampler_manifest("unscaled", style="scheduler"), create, registry=registry, mixture=False,
                      prediction_types=("epsilon",), samples=SAMPLES)


def test_the_failure_message_holds_the_table(registry):
    report = check_sampler(sampler_manifest("wrong_sign2"), k_euler_wrong_sign, registry=registry, mixture=False,
                           prediction_types=("epsilon",), steps=(5, 20), raise_on_failure=False)
    text = str(report)
    assert "sampler 'wrong_sign2'" in text and "gaussian/epsilon" in text and "FAILED" in text


# consistency models -------------------------------------------------------------------------------------------------


def test_lcm_with_a_plain_denoiser_loses_variance_as_steps_grow(registry):
    """Why lcm is checked with the exact consistency function: re-noising the posterior mean at every step
    keeps only part of the variance, tending to half of it with many steps, whatever the step count."""
    config = conformance.sd_scheduler_config()
    schedule = NoiseSchedule.from_config(config)
    ratios = []
    for steps in (4, 50):
        model = ExactModel(schedule, conformance.GAUSSIAN, consistency=False)
        out = conformance._run("lcm", registry, config, model, {}, conformance.GAUSSIAN, steps, 4096, 0)
        ratios.append(np.trace(np.cov(out.T)) / np.trace(conformance.GAUSSIAN.covariance()))
    assert ratios[0] < 0.4 and 0.4 < ratios[1] < 0.55


# guidance -----------------------------------------------------------------------------------------------------------


def swapped_cfg(step):
    return step.cond + step.scale * (step.uncond - step.cond)


def test_guidance_that_claims_to_be_cfg_but_is_not_fails(registry):
    with pytest.raises(ConformanceFailure, match="as CFG"):
        check_guidance(guidance_manifest("swapped", cfg_equivalent={}), swapped_cfg, registry=registry,
                       samplers=("euler",), samples=SAMPLES, steps=(10, 50))


def test_interval_guidance_reaches_different_targets_with_ode_and_sde_samplers(registry):
    """Guidance in an interval is not the score of one distribution: ODE and SDE samplers end apart. Each
    passes against its own closed-form target, and the ODE sampler misses the SDE one."""
    params = {"sigma_low": 1.0, "sigma_high": 5.42}
    as_if_stochastic = lambda problem: interval_target(dataclasses.replace(problem, stochastic=True))
    options = dict(registry=registry, params=params, scale=5.0, steps=(20, 80), raise_on_failure=False, samples=SAMPLES)
    assert check_guidance("interval", samplers=("euler",), **options).passed
    report = check_guidance("interval", samplers=("euler",), target=as_if_stochastic, **options)
    assert [f for f in report.failures if "own target" in f]


def test_classifier_guidance_samples_the_exact_posterior(registry):
    """The classifier slot: a plugin's log p(y | x) whose gradient Studio takes. For Gaussian data and a
    Gaussian likelihood p(y | x0) = N(y; x0, R) the noisy classifier is exact, so guiding with it at scale 1
    samples the posterior p(x0 | y) exactly (for ODE and SDE samplers alike)."""
    mean = torch.as_tensor(COND_MEAN)
    cov = torch.as_tensor(SHARED_COVARIANCE)
    noise_cov = torch.eye(len(COND_MEAN), dtype=torch.float64) * 0.5
    y = mean + 0.8

    def log_prob(x, sigma, params):
        x = x.flatten(1).double()
        gain = cov @ torch.linalg.inv(cov + sigma**2 * torch.eye(len(mean), dtype=torch.float64))
        predicted = mean + (x - mean) @ gain.T  # E[x0 | x]
        spread = cov - gain @ cov + noise_cov  # Cov[x0 | x] + R
        residual = y - predicted
        return -0.5 * torch.einsum("ni,ij,nj->n", residual, torch.linalg.inv(spread), residual)

    def guide(step):
        return step.cond + step.params["classifier_scale"] * step.sigma**2 * step.classifier_grad

    def target(problem):
        inverse = np.linalg.inv(SHARED_COVARIANCE)
        posterior = np.linalg.inv(inverse + np.linalg.inv(noise_cov.numpy()))
        post_mean = posterior @ (inverse @ COND_MEAN + np.linalg.inv(noise_cov.numpy()) @ y.numpy())
        return GaussianTarget(post_mean, posterior, post_mean, posterior)

    manifest = guidance_manifest(
        "gaussian_classifier", needs=["cond"], neutral_scale=None, classifier="tests.plugins:unused",
        parameters=[{"name": "classifier_scale", "type": "float", "default": 1.0, "min": 0.0, "max": 10.0}],
    )
    report = check_guidance(manifest, guide, classifier=log_prob, registry=registry, target=target, samples=SAMPLES)
    assert report.passed


def test_exact_denoiser_matches_a_monte_carlo_posterior_mean():
    mixture = conformance.MIXTURE
    generator = torch.Generator().manual_seed(3)
    x0 = mixture.sample(200_000, generator).numpy()
    sigma = 0.7
    x = x0 + sigma * np.random.default_rng(0).normal(size=x0.shape)
    near = np.linalg.norm(x - np.array([0.2, 0.1]), axis=1) < 0.08
    assert near.sum() > 200
    exact = mixture.denoise(np.array([[0.2, 0.1]]), sigma)[0]
    assert np.allclose(x0[near].mean(axis=0), exact, atol=0.06)


def test_gaussian_flow_is_the_ode_endpoint():
    gaussian = GaussianMixture.gaussian([0.5, -0.2], [[0.8, 0.1], [0.1, 0.3]])
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64).numpy() * 3
    mixture_like = GaussianMixture.of([0.5, 0.5], [[0.5, -0.2]] * 2, [[[0.8, 0.1], [0.1, 0.3]]] * 2)
    assert np.allclose(gaussian.flow(x, 3.0), mixture_like.flow(x, 3.0, steps=400), atol=2e-3)
