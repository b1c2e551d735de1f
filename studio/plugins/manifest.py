"""Plugin manifests: what a plugin is, which API version it was written for, and its parameters.

A manifest is plain data (a dict in the plugin's light, torch-free module, or a `Manifest`), read without
importing the plugin's code: the window lists plugins and builds their sliders from manifests alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from studio.plugins.errors import ManifestError, ParameterError

API_VERSION = 1
SUPPORTED_API_VERSIONS = (1,)
KINDS = ("sampler", "guidance")
ENTRY_POINT_GROUPS = {"sampler": "studio.samplers", "guidance": "studio.guidance"}
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
IMPLEMENTATION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
PARAMETER_TYPES = ("float", "int", "bool", "choice")

SAMPLER_STYLES = ("scheduler", "k-diffusion")
SCHEDULES = ("model", "karras", "exponential")  # sigma schedules a k-diffusion sampler can ask for
SAMPLER_MODELS = ("denoiser", "consistency")  # what the sampler expects the model to be (see docs/PLUGINS.md)
GUIDANCE_PREDICTIONS = ("cond", "uncond")  # the predictions plugin API 1 provides to guidance


@dataclass(frozen=True)
class Parameter:
    """One plugin parameter: enough for the window to build a slider, a check box or a list."""

    name: str
    type: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""
    help: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def check(self, value: Any) -> Any:
        """The value, of this parameter's type and in its range; ValueError with the reason otherwise."""
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"must be true or false, got {value!r}")
            return value
        if self.type == "choice":
            if value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"must be a number, got {value!r}")
        if self.type == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"must be between {self.minimum:g} and {self.maximum:g}, got {value:g}")
        return value

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default}
        if self.type in ("float", "int"):
            data.update(min=self.minimum, max=self.maximum)
            if self.step is not None:
                data["step"] = self.step
        if self.type == "choice":
            data["choices"] = list(self.choices)
        if self.label:
            data["label"] = self.label
        if self.help:
            data["help"] = self.help
        return data

    @classmethod
    def from_dict(cls, plugin: str, data: Any) -> "Parameter":
        if isinstance(data, Parameter):
            return data
        if not isinstance(data, Mapping):
            raise ManifestError(plugin, f"each parameter must be a table, got {data!r}")
        name = data.get("name")
        where = f"parameter '{name}'"
        if not isinstance(name, str) or not NAME.match(name):
            raise ManifestError(plugin, f"a parameter name must be lower_snake_case, got {name!r}")
        unknown = sorted(set(data) - {"name", "type", "default", "min", "max", "step", "choices", "label", "help"})
        if unknown:
            raise ManifestError(plugin, f"{where}: unknown field '{unknown[0]}'")
        kind = data.get("type")
        if kind not in PARAMETER_TYPES:
            raise ManifestError(plugin, f"{where}: type must be one of {', '.join(PARAMETER_TYPES)}, got {kind!r}")
        if "default" not in data:
            raise ManifestError(plugin, f"{where}: a default is required")
        numbers = {}
        for key in ("min", "max", "step"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
                raise ManifestError(plugin, f"{where}: {key} must be a finite number, got {value!r}")
            numbers[key] = value
        if kind in ("float", "int") and (numbers["min"] is None or numbers["max"] is None):
            raise ManifestError(plugin, f"{where}: numeric parameters need min and max (the window builds a slider)")
        if kind in ("float", "int") and numbers["min"] > numbers["max"]:
            raise ManifestError(plugin, f"{where}: min is above max")
        choices = data.get("choices", ())
        if kind == "choice" and (not choices or not all(isinstance(c, str) for c in choices)):
            raise ManifestError(plugin, f"{where}: a choice parameter needs a list of text choices")
        for key in ("label", "help"):
            if not isinstance(data.get(key, ""), str):
                raise ManifestError(plugin, f"{where}: {key} must be text")
        parameter = cls(
            name, kind, data["default"], numbers["min"], numbers["max"], numbers["step"], tuple(choices),
            data.get("label", ""), data.get("help", ""),
        )
        try:
            object.__setattr__(parameter, "default", parameter.check(parameter.default))
        except ValueError as error:
            raise ManifestError(plugin, f"{where}: the default {error}") from None
        return parameter


@dataclass(frozen=True)
class Manifest:
    """What Studio knows about a plugin without importing its code."""

    name: str
    kind: str
    version: str
    api_version: int
    implementation: str  # "module:attribute", imported only when the plugin is first used
    label: str = ""
    description: str = ""
    parameters: tuple[Parameter, ...] = ()
    # samplers
    style: str = ""  # "scheduler": a diffusers scheduler factory; "k-diffusion": a sampling function
    stochastic: bool = False  # draws fresh noise while sampling (ancestral / SDE samplers)
    schedule: str = "model"  # k-diffusion style: the sigma schedule it is given
    model: str = "denoiser"  # "consistency": the sampler expects a consistency (distilled) model, e.g. LCM
    # guidance
    needs: tuple[str, ...] = ()  # the predictions it combines, from GUIDANCE_PREDICTIONS
    classifier: str = ""  # optional "module:attribute" of log_prob(x, sigma, params): classifier guidance
    neutral_scale: float | None = 1.0  # at this scale the guided prediction is the conditional one
    cfg_equivalent: Mapping[str, Any] | None = None  # parameter values under which it is exactly CFG
    details: Mapping[str, Any] = field(default_factory=dict)  # free-form, shown in the manager

    @property
    def title(self) -> str:
        return self.label or self.name

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def resolve(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """The plugin's parameters: defaults, overridden by `values`, each checked against its spec."""
        resolved = self.defaults()
        for key, value in (values or {}).items():
            parameter = self.parameter(key)
            if parameter is None:
                known = ", ".join(p.name for p in self.parameters) or "none"
                raise ParameterError(self.name, key, f"unknown parameter (known: {known})")
            try:
                resolved[key] = parameter.check(value)
            except ValueError as error:
                raise ParameterError(self.name, key, str(error)) from None
        return resolved

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name, "kind": self.kind, "version": self.version, "api_version": self.api_version,
            "implementation": self.implementation, "label": self.label, "description": self.description,
            "parameters": [p.to_dict() for p in self.parameters],
        }
        if self.kind == "sampler":
            data.update(style=self.style, stochastic=self.stochastic, schedule=self.schedule, model=self.model)
        else:
            data.update(needs=list(self.needs), neutral_scale=self.neutral_scale)
            if self.classifier:
                data["classifier"] = self.classifier
            if self.cfg_equivalent is not None:
                data["cfg_equivalent"] = dict(self.cfg_equivalent)
        if self.details:
            data["details"] = dict(self.details)
        return data

    @classmethod
    def from_dict(cls, data: Any, kind: str | None = None, name: str | None = None, version: str | None = None) -> "Manifest":
        """Validate a manifest. `kind`, `name` and `version` come from where it was found (entry point group,
        entry point name, distribution version) and fill in or must match the manifest's own."""
        if isinstance(data, Manifest):
            data = data.to_dict()
        label = name or (data.get("name") if isinstance(data, Mapping) else None) or "?"
        if not isinstance(data, Mapping):
            raise ManifestError(str(label), f"a manifest must be a table (dict), got {type(data).__name__}")
        check_api_version(str(label), data.get("api_version"))
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ManifestError(str(label), f"unknown field '{unknown[0]}'")
        values = dict(data)
        for key, found in (("kind", kind), ("name", name)):
            if found is not None and values.setdefault(key, found) != found:
                raise ManifestError(str(label), f"its {key} is '{values[key]}' but it is registered as '{found}'")
        if version is not None:
            values.setdefault("version", version)
        return _validated(cls, values)


def check_api_version(name: str, api_version: Any) -> int:
    if isinstance(api_version, bool) or not isinstance(api_version, int):
        raise ManifestError(name, f"api_version must be a whole number (this Studio provides plugin API {API_VERSION})")
    if api_version not in SUPPORTED_API_VERSIONS:
        newer = api_version > max(SUPPORTED_API_VERSIONS)
        advice = "update Studio" if newer else "update the plugin"
        raise ManifestError(
            name,
            f"written for plugin API {api_version}, but this Studio provides API "
            f"{', '.join(map(str, SUPPORTED_API_VERSIONS))}: {advice}",
        )
    return api_version


def _text(plugin: str, values: dict, key: str, required: bool = False) -> str:
    value = values.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ManifestError(plugin, f"{key} must be {'non-empty ' if required else ''}text, got {value!r}")
    return value


def _choice(plugin: str, values: dict, key: str, choices: tuple[str, ...], default: str) -> str:
    value = values.get(key, default)
    if value not in choices:
        raise ManifestError(plugin, f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _validated(cls, values: dict) -> Manifest:
    name = values.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ManifestError(str(name), "name must be lower_snake_case such as 'euler_a'")
    kind = _choice(name, values, "kind", KINDS, "")
    version = values.get("version", "unknown")  # entry-point plugins get their distribution's version
    if not isinstance(version, str) or not version.strip():
        raise ManifestError(name, "version must be text such as '1.0.0'")
    implementation = _text(name, values, "implementation", required=True)
    if not IMPLEMENTATION.match(implementation):
        raise ManifestError(name, f"implementation must be 'module:attribute', got {implementation!r}")
    raw_parameters = values.get("parameters", ())
    if not isinstance(raw_parameters, (list, tuple)):
        raise ManifestError(name, "parameters must be a list")
    parameters = tuple(Parameter.from_dict(name, p) for p in raw_parameters)
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise ManifestError(name, "two parameters have the same name")
    details = values.get("details", {})
    if not isinstance(details, Mapping):
        raise ManifestError(name, "details must be a table")
    common = dict(
        name=name, kind=kind, version=version.strip(), api_version=values["api_version"], implementation=implementation,
        label=_text(name, values, "label"), description=_text(name, values, "description"), parameters=parameters,
        details=dict(details),
    )
    if kind == "sampler":
        for key in ("needs", "classifier", "neutral_scale", "cfg_equivalent"):
            if key in values:
                raise ManifestError(name, f"'{key}' is a guidance field, not a sampler one")
        stochastic = values.get("stochastic", False)
        if not isinstance(stochastic, bool):
            raise ManifestError(name, "stochastic must be true or false")
        return cls(
            **common, style=_choice(name, values, "style", SAMPLER_STYLES, ""), stochastic=stochastic,
            schedule=_choice(name, values, "schedule", SCHEDULES, "model"),
            model=_choice(name, values, "model", SAMPLER_MODELS, "denoiser"),
        )
    for key in ("style", "stochastic", "schedule", "model"):
        if key in values:
            raise ManifestError(name, f"'{key}' is a sampler field, not a guidance one")
    needs = values.get("needs", ("cond", "uncond"))
    if isinstance(needs, str) or not isinstance(needs, (list, tuple)) or not needs:
        raise ManifestError(name, "needs must be a list such as ['cond', 'uncond']")
    for need in needs:
        if need not in GUIDANCE_PREDICTIONS:
            raise ManifestError(
                name, f"needs '{need}', but plugin API {API_VERSION} provides {', '.join(GUIDANCE_PREDICTIONS)} "
                "(other predictions can be made by the plugin itself through GuidanceStep.model)",
            )
    if "cond" not in needs:
        raise ManifestError(name, "needs must include 'cond'")
    classifier = _text(name, values, "classifier")
    if classifier and not IMPLEMENTATION.match(classifier):
        raise ManifestError(name, f"classifier must be 'module:attribute', got {classifier!r}")
    neutral = values.get("neutral_scale", 1.0)
    if neutral is not None and (isinstance(neutral, bool) or not isinstance(neutral, (int, float))):
        raise ManifestError(name, "neutral_scale must be a number or null")
    equivalent = values.get("cfg_equivalent")
    if equivalent is not None:
        if not isinstance(equivalent, Mapping):
            raise ManifestError(name, "cfg_equivalent must be a table of parameter values")
        probe = cls(**common)
        try:
            equivalent = probe.resolve(equivalent)
        except ParameterError as error:
            raise ManifestError(name, f"cfg_equivalent: {error.parameter}: {error.reason}") from None
    return cls(
        **common, needs=tuple(needs), classifier=classifier,
        neutral_scale=None if neutral is None else float(neutral), cfg_equivalent=equivalent,
    )
