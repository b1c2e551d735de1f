"""The EDM Heun sampler: its own properties, and Studio's conformance check (fixtures from Studio's pytest plugin)."""

import math

import torch

from studio_sampler_edm import MANIFEST
from studio_sampler_edm.sampler import sample


class Options(dict):
    def __init__(self, noise=None, **params):
        super().__init__({"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 1000.0, "s_noise": 1.0, **params})
        self.noise = noise or (lambda x: torch.zeros_like(x))


def gaussian_denoiser(variance):
    """Exact denoiser for 1-D data N(0, variance): D(x; s) = variance / (variance + s^2) x."""
    return lambda x, sigma: x * variance / (variance + sigma**2)


def karras(n, sigma_min=0.03, sigma_max=14.6, rho=7.0):
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def test_second_order_convergence_of_the_deterministic_sampler():
    # For N(0, v) data the probability-flow ODE maps x at sigma_max to x * sqrt(v / (v + sigma_max^2)).
    variance, x = 0.5, torch.tensor([1.0], dtype=torch.float64)
    errors = []
    for n in (8, 16, 32):
        sigmas = karras(n)[:-1]  # stop at sigma_min: the last step to 0 is first order
        exact = x * math.sqrt((variance + sigmas[-1] ** 2) / (variance + sigmas[0] ** 2))
        out = sample(gaussian_denoiser(variance), x.clone(), sigmas, lambda info: None, Options())
        errors.append(abs(float(out - exact)))
    assert errors[1] < errors[0] / 3 and errors[2] < errors[1] / 3  # halving h divides a 2nd-order error by ~4


def test_two_model_calls_per_step_and_one_on_the_last():
    calls = []
    model = lambda x, s: calls.append(float(s)) or torch.zeros_like(x)
    steps = []
    sample(model, torch.ones(1), karras(5), lambda info: steps.append(info["i"]), Options())
    assert len(calls) == 2 * 5 - 1 and steps == [0, 1, 2, 3, 4]


def test_churn_raises_the_noise_level_before_evaluating():
    calls = []
    model = lambda x, s: calls.append(float(s)) or torch.zeros_like(x)
    sigmas = karras(4)
    sample(model, torch.ones(1), sigmas, lambda info: None, Options(noise=torch.randn_like, s_churn=1.0))
    assert math.isclose(calls[0], float(sigmas[0]) * (1 + 1.0 / 4), rel_tol=1e-6)


def test_manifest_is_torch_free_and_valid():
    from studio.plugins import Manifest

    manifest = Manifest.from_dict(MANIFEST, kind="sampler")
    assert manifest.style == "k-diffusion" and manifest.schedule == "karras"


def test_passes_studio_conformance_check(check_sampler):
    report = check_sampler("edm_heun")
    assert report.passed


def test_passes_with_churn(check_sampler):
    check_sampler("edm_heun", params={"s_churn": 5.0, "s_noise": 1.003}, prediction_types=("epsilon",))


def test_manifest_module_imports_without_torch(check_manifest_is_torch_free):
    check_manifest_is_torch_free("studio_sampler_edm")
