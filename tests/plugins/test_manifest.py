"""Manifests: what a plugin declares, validated with messages that name the plugin and the field."""

import pytest

from studio.plugins import API_VERSION, ManifestError, Manifest, Parameter, ParameterError
from studio.plugins.builtins import BUILTIN_GUIDANCE, BUILTIN_SAMPLERS, builtin_manifests

SAMPLER = {
    "name": "my_sampler", "kind": "sampler", "version": "1.2.0", "api_version": 1,
    "implementation": "my_pkg.sampler:sample", "style": "k-diffusion",
    "parameters": [
        {"name": "eta", "type": "float", "default": 0.5, "min": 0.0, "max": 1.0, "step": 0.1, "label": "Eta"},
        {"name": "order", "type": "int", "default": 2, "min": 1, "max": 3},
        {"name": "karras", "type": "bool", "default": True},
        {"name": "mode", "type": "choice", "default": "fast", "choices": ["fast", "exact"]},
    ],
}


def test_a_full_manifest_round_trips():
    manifest = Manifest.from_dict(SAMPLER)
    assert manifest.kind == "sampler" and manifest.style == "k-diffusion" and manifest.schedule == "model"
    assert [p.name for p in manifest.parameters] == ["eta", "order", "karras", "mode"]
    assert Manifest.from_dict(manifest.to_dict()) == manifest
    eta = manifest.parameter("eta")
    assert (eta.type, eta.default, eta.minimum, eta.maximum, eta.step, eta.title) == ("float", 0.5, 0.0, 1.0, 0.1, "Eta")


def test_parameters_resolve_with_defaults_and_checks():
    manifest = Manifest.from_dict(SAMPLER)
    assert manifest.resolve({"order": 3.0}) == {"eta": 0.5, "order": 3, "karras": True, "mode": "fast"}
    for values, message in (
        ({"eta": 2.0}, "between 0 and 1"), ({"order": 1.5}, "whole number"), ({"karras": 1}, "true or false"),
        ({"mode": "slow"}, "one of fast, exact"), ({"warp": 1}, "unknown parameter"), ({"eta": "x"}, "a number"),
    ):
        with pytest.raises(ParameterError, match=message) as error:
            manifest.resolve(values)
        assert "my_sampler" in str(error.value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"api_version": 2}, "written for plugin API 2, but this Studio provides API 1: update Studio"),
        ({"api_version": 0}, "update the plugin"),
        ({"api_version": "1"}, "api_version must be a whole number"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"name": "My Sampler"}, "lower_snake_case"),
        ({"implementation": "my_pkg.sampler"}, "module:attribute"),
        ({"style": "magic"}, "style must be one of scheduler, k-diffusion"),
        ({"needs": ["cond"]}, "'needs' is a guidance field"),
        ({"parameters": [{"name": "eta", "type": "float", "default": 0.5}]}, "need min and max"),
        ({"parameters": [{"name": "eta", "type": "float", "default": 5, "min": 0, "max": 1}]}, "the default must be between"),
        ({"parameters": [{"name": "m", "type": "choice", "default": "a"}]}, "needs a list of text choices"),
        ({"parameters": [{"name": "m", "type": "colour", "default": "a"}]}, "type must be one of"),
    ],
)
def test_bad_manifests_are_refused_with_a_clear_reason(change, message):
    with pytest.raises(ManifestError, match=message) as error:
        Manifest.from_dict({**SAMPLER, **change})
    assert "plugin '" in str(error.value)


def test_guidance_manifests_declare_the_predictions_they_need():
    base = {"name": "g", "kind": "guidance", "version": "1", "api_version": 1, "implementation": "m:g"}
    assert Manifest.from_dict(base).needs == ("cond", "uncond")
    assert Manifest.from_dict({**base, "needs": ["cond"], "neutral_scale": None}).neutral_scale is None
    with pytest.raises(ManifestError, match="plugin API 1 provides cond, uncond"):
        Manifest.from_dict({**base, "needs": ["cond", "negative"]})
    with pytest.raises(ManifestError, match="must include 'cond'"):
        Manifest.from_dict({**base, "needs": ["uncond"]})
    with pytest.raises(ManifestError, match="cfg_equivalent: x: unknown parameter"):
        Manifest.from_dict({**base, "cfg_equivalent": {"x": 1}})


def test_the_registration_point_must_match_the_manifest():
    with pytest.raises(ManifestError, match="registered as 'other'"):
        Manifest.from_dict(SAMPLER, kind="sampler", name="other")
    assert Manifest.from_dict({k: v for k, v in SAMPLER.items() if k != "version"}, version="3.1").version == "3.1"


def test_builtins_are_manifests_like_any_plugin():
    manifests = {m.name: m for m in builtin_manifests()}
    assert set(BUILTIN_SAMPLERS) | set(BUILTIN_GUIDANCE) == set(manifests)
    assert {"ddpm", "ddim", "euler", "euler_a", "heun", "lms", "dpmpp_2m", "dpmpp_2m_karras", "dpmpp_2m_sde", "unipc",
            "lcm", "cfg", "cfg_rescale", "interval"} <= set(manifests)
    for manifest in manifests.values():
        assert Manifest.from_dict(manifest.to_dict()) == manifest and manifest.api_version == API_VERSION
    assert manifests["dpmpp_2m_karras"].defaults() == {"karras": True}
    assert manifests["lcm"].model == "consistency" and manifests["euler_a"].stochastic


def test_parameter_specs_are_plain_data_for_sliders():
    spec = Parameter.from_dict("p", {"name": "rescale", "type": "float", "default": 0.7, "min": 0, "max": 1})
    assert spec.to_dict() == {"name": "rescale", "type": "float", "default": 0.7, "min": 0, "max": 1}
