"""APG: its defining properties, and Studio's conformance check."""

import torch

from studio.plugins import GuidanceStep, Manifest
from studio_guidance_apg import MANIFEST
from studio_guidance_apg.guidance import guide, project


def make_step(scale=4.0, **params):
    generator = torch.Generator().manual_seed(0)
    cond, uncond = torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 4, 8, 8, generator=generator)
    values = {"eta": 0.0, "norm_threshold": 0.0, "momentum": 0.0, **params}
    return GuidanceStep(torch.zeros_like(cond), 1.0, scale, values, {"cond": cond, "uncond": uncond}, 0, {})


def test_with_its_cfg_equivalent_parameters_it_is_cfg():
    step = make_step(**Manifest.from_dict(MANIFEST).cfg_equivalent)
    expected = step.uncond + step.scale * (step.cond - step.uncond)
    assert torch.allclose(guide(step), expected, atol=1e-5)


def test_with_eta_0_the_update_is_orthogonal_to_the_conditional_prediction():
    step = make_step(eta=0.0)
    update = guide(step) - step.cond
    assert torch.allclose((update * step.cond).flatten(1).sum(1), torch.zeros(2), atol=1e-3)


def test_projection_splits_a_vector():
    a, b = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    parallel, orthogonal = project(a, b)
    assert torch.allclose(parallel + orthogonal, a, atol=1e-6)


def test_norm_threshold_caps_the_update():
    step = make_step(eta=1.0, norm_threshold=1.0)
    update = (guide(step) - step.cond) / (step.scale - 1)
    assert float(update.flatten(1).norm(dim=1).max()) <= 1.0 + 1e-5


def test_momentum_is_kept_across_the_job():
    step = make_step(momentum=-0.5)
    guide(step)
    assert "running" in step.state


def test_passes_studio_conformance_check(check_guidance):
    assert check_guidance("apg").passed


def test_manifest_module_imports_without_torch(check_manifest_is_torch_free):
    check_manifest_is_torch_free("studio_guidance_apg")
