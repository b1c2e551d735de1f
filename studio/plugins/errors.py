"""Errors of the plugin layer. Each is a StudioError: the window and the CLI show its one line to the user."""

from __future__ import annotations

from studio.core.errors import StudioError


class PluginError(StudioError):
    """A plugin cannot be used: unknown, disabled, incompatible, failed to import, or failed while sampling."""

    def __init__(self, name: str, message: str):
        self.plugin = name
        super().__init__(message)


class ManifestError(PluginError):
    """A plugin's manifest is missing a field, has one of the wrong type, or names an incompatible API version."""

    def __init__(self, name: str, reason: str):
        self.reason = reason
        super().__init__(name, f"plugin '{name}': bad manifest: {reason}")


class PluginFailed(PluginError):
    """A plugin raised, or returned something unusable, while a job ran. The registry disables it."""

    def __init__(self, name: str, kind: str, reason: str):
        self.kind = kind
        self.reason = reason
        super().__init__(
            name,
            f"the {kind} plugin '{name}' failed and has been disabled: {reason} "
            f"(re-enable it with `studio plugins enable {name}` or the plugin manager)",
        )


class ParameterError(PluginError):
    """A value given for a plugin parameter is unknown, of the wrong type or out of range."""

    def __init__(self, name: str, parameter: str, reason: str):
        self.parameter = parameter
        self.reason = reason
        super().__init__(name, f"plugin '{name}', parameter '{parameter}': {reason}")
