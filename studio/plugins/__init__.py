"""The public plugin API (samplers, guidance types). Torch-free at import: manifests are read without it.

For the window and the CLI, everything here works without torch:

    list_plugins(kind=None) -> list[PluginInfo]          every plugin, with manifest, origin, status
    installed_plugins() -> list[PluginInfo]              the ones that are not built in
    sampler_choices() / guidance_choices() -> [(id, label)]   the usable ones, for combo boxes
    parameter_specs(kind, name) -> tuple[Parameter]      type, default, min, max, step, choices, label, help
    resolve_params(kind, name, values) -> dict           defaults filled in, each value checked
    enable_plugin(name) / disable_plugin(name) -> PluginInfo
    install_plugin(path_or_wheel) -> InstallResult       / remove_plugin(name) -> distribution removed
    plugin_provenance(recipe) -> dict                    names and versions, for a result's metadata
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from studio.plugins.api import GuidanceStep, SamplerOptions
from studio.plugins.errors import ManifestError, ParameterError, PluginError, PluginFailed
from studio.plugins.manifest import API_VERSION, ENTRY_POINT_GROUPS, KINDS, SUPPORTED_API_VERSIONS, Manifest, Parameter
from studio.plugins.registry import PluginInfo, PluginRegistry, default_registry, plugins_dir, set_default_registry

__all__ = [
    "API_VERSION", "SUPPORTED_API_VERSIONS", "KINDS", "ENTRY_POINT_GROUPS",
    "Manifest", "Parameter", "PluginInfo", "PluginRegistry", "GuidanceStep", "SamplerOptions",
    "PluginError", "PluginFailed", "ManifestError", "ParameterError",
    "default_registry", "set_default_registry", "plugins_dir",
    "list_plugins", "installed_plugins", "sampler_choices", "guidance_choices", "parameter_specs", "resolve_params",
    "enable_plugin", "disable_plugin", "install_plugin", "remove_plugin", "refresh_plugins", "plugin_provenance",
]


def list_plugins(kind: str | None = None) -> list[PluginInfo]:
    return default_registry().plugins(kind)


def installed_plugins() -> list[PluginInfo]:
    """The plugins that are not built in (installed in Studio's environment or in the user's plugins folder)."""
    return [info for info in default_registry().plugins() if info.origin != "builtin"]


def _choices(kind: str) -> list[tuple[str, str]]:
    return [(info.name, info.label) for info in default_registry().plugins(kind, available_only=True)]


def sampler_choices() -> list[tuple[str, str]]:
    """(id, label) of every usable sampler: built-ins first, then plugins."""
    return _choices("sampler")


def guidance_choices() -> list[tuple[str, str]]:
    return _choices("guidance")


def parameter_specs(kind: str, name: str) -> tuple[Parameter, ...]:
    return default_registry().manifest(kind, name).parameters


def resolve_params(kind: str, name: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return default_registry().manifest(kind, name).resolve(values)


def enable_plugin(name: str) -> PluginInfo:
    return default_registry().enable(name)


def disable_plugin(name: str) -> PluginInfo:
    return default_registry().disable(name)


def install_plugin(source: str | Path):
    from studio.plugins.manage import install

    return install(source, default_registry())


def remove_plugin(name: str) -> str:
    from studio.plugins.manage import remove

    return remove(name, default_registry())


def refresh_plugins() -> None:
    default_registry().refresh()


def plugin_provenance(recipe: Any) -> dict[str, dict[str, str]]:
    """{"sampler": {"name", "version", "origin"[, "distribution"]}, "guidance": {...}} for a recipe."""
    return default_registry().provenance(recipe.sampler, getattr(recipe, "guidance_type", "cfg"))
