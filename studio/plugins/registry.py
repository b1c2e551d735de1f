"""The plugin registry: built-ins, plugins installed in Studio's environment and plugins in the user's folder.

Discovery reads manifests only (entry points in the groups `studio.samplers` and `studio.guidance` point at a
manifest in a light, torch-free module); a plugin's code is imported the first time a job uses it. A plugin
that cannot be read, is written for another API version, fails to import or fails while sampling is listed
with the reason and never used, and the rest of the app carries on. Enabled/disabled state is kept in the
user's config folder.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import json
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from platformdirs import user_config_dir, user_data_dir

from studio.plugins.builtins import builtin_manifests
from studio.plugins.errors import ManifestError, PluginError, PluginFailed
from studio.plugins.manifest import ENTRY_POINT_GROUPS, Manifest, Parameter

STATE_FILE = "plugins.json"
ORIGINS = ("builtin", "installed", "user", "session")  # user: the user's plugins folder; session: registered in-process


def plugins_dir() -> Path:
    """The user's plugins folder: `studio plugins install` puts distributions here (a pip --target folder)."""
    override = os.environ.get("STUDIO_PLUGINS_DIR")
    return Path(override) if override else Path(user_data_dir("studio")) / "plugins"


def state_file() -> Path:
    return Path(user_config_dir("studio")) / STATE_FILE


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as the manager lists it. `problem` says why it cannot be used at all; `disabled` why the user
    or Studio switched it off."""

    name: str
    kind: str
    origin: str
    manifest: Manifest | None = None
    distribution: str | None = None
    distribution_version: str | None = None
    location: str | None = None
    enabled: bool = True
    disabled: str | None = None  # the reason it was disabled, when Studio disabled it after a failure
    problem: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def available(self) -> bool:
        return self.enabled and self.problem is None and self.manifest is not None

    @property
    def label(self) -> str:
        return self.manifest.title if self.manifest else self.name

    @property
    def version(self) -> str:
        return (self.manifest.version if self.manifest else None) or self.distribution_version or ""

    @property
    def description(self) -> str:
        return self.manifest.description if self.manifest else ""

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return self.manifest.parameters if self.manifest else ()

    @property
    def status(self) -> str:
        if self.problem:
            return f"unavailable: {self.problem}"
        if not self.enabled:
            return f"disabled: {self.disabled}" if self.disabled else "disabled"
        return "enabled"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "origin": self.origin, "label": self.label, "version": self.version,
            "description": self.description, "enabled": self.enabled, "available": self.available,
            "status": self.status, "distribution": self.distribution, "location": self.location,
            "manifest": self.manifest.to_dict() if self.manifest else None,
        }


def import_object(reference: str) -> Any:
    """'package.module:attribute.sub' → the object."""
    module_name, _, attributes = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for attribute in attributes.split("."):
        target = getattr(target, attribute)
    return target


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class PluginRegistry:
    """Thread-safe: the window lists plugins while a worker thread may be disabling one that failed."""

    def __init__(
        self,
        state_path: Path | None = None,
        folder: Path | None = None,
        environment: bool = True,
        builtins: bool = True,
    ):
        self.state_path = Path(state_path) if state_path else state_file()
        self.folder = Path(folder) if folder else plugins_dir()
        self.environment = environment
        self.builtins = builtins
        self._lock = threading.RLock()
        self._found: dict[str, PluginInfo] | None = None  # key "kind:name" → info, discovery order
        self._session: dict[str, tuple[PluginInfo, Any]] = {}
        self._loaded: dict[str, Any] = {}

    # discovery ---------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Discover again (after an install or removal); imported plugin code stays imported."""
        with self._lock:
            self._found = None
            self._loaded = {k: v for k, v in self._loaded.items() if k.partition("/")[0] in self._session}

    def _discover(self) -> dict[str, PluginInfo]:
        found: dict[str, PluginInfo] = {}
        candidates: list[PluginInfo] = []
        if self.builtins:
            candidates += [PluginInfo(m.name, m.kind, "builtin", m) for m in builtin_manifests()]
        candidates += [info for info, _ in self._session.values()]
        folder_names: set[str] = set()
        if self.folder.is_dir():
            folder_dists = list(metadata.distributions(path=[str(self.folder)]))
            folder_names = {_normal(d.metadata["Name"] or "") for d in folder_dists}
            candidates += self._from_distributions(folder_dists, "user")
        if self.environment:
            env_dists = [
                d for d in metadata.distributions()
                if not _inside(d, self.folder) and _normal(d.metadata["Name"] or "") not in folder_names
            ]
            candidates += self._from_distributions(env_dists, "installed")
        disabled = self._read_state()
        for info in candidates:
            if info.key in found:
                first = found[info.key]
                info = replace(info, problem=f"the name '{info.name}' is already taken by {_describe(first)}")
                found[f"{info.key}@{info.origin}:{info.distribution}"] = info
                continue
            if info.key in disabled:
                info = replace(info, enabled=False, disabled=disabled[info.key])
            found[info.key] = info
        return found

    def _from_distributions(self, dists: Iterable[metadata.Distribution], origin: str) -> list[PluginInfo]:
        infos = []
        seen: set[tuple[str, str]] = set()
        for dist in dists:
            name = dist.metadata["Name"] or "?"
            for kind, group in ENTRY_POINT_GROUPS.items():
                for ep in dist.entry_points:
                    if ep.group != group or (group, ep.name) in seen:
                        continue
                    seen.add((group, ep.name))
                    infos.append(self._read_entry_point(ep, kind, origin, name, dist))
        return infos

    def _read_entry_point(self, ep, kind: str, origin: str, dist_name: str, dist) -> PluginInfo:
        location = str(dist.locate_file(""))
        base = PluginInfo(ep.name, kind, origin, None, dist_name, dist.version, location)
        if origin == "user":
            self._put_folder_on_path()
        try:
            loaded = ep.load()
            data = loaded() if callable(loaded) and not isinstance(loaded, Manifest) else loaded
            manifest = Manifest.from_dict(data, kind=kind, name=ep.name, version=dist.version)
        except ManifestError as error:
            return replace(base, problem=error.reason)
        except Exception as error:  # a broken plugin must never stop the listing
            return replace(base, problem=f"its manifest could not be read ({_short(error)})")
        return replace(base, manifest=manifest)

    def _put_folder_on_path(self) -> None:
        folder = str(self.folder)
        if folder not in sys.path:
            sys.path.append(folder)  # after the environment: a plugin folder never shadows Studio's packages

    def _all(self) -> dict[str, PluginInfo]:
        with self._lock:
            if self._found is None:
                self._found = self._discover()
            return self._found

    # listing -----------------------------------------------------------------------------------------------------

    def plugins(self, kind: str | None = None, available_only: bool = False) -> list[PluginInfo]:
        infos = [i for i in self._all().values() if kind is None or i.kind == kind]
        return [i for i in infos if i.available] if available_only else infos

    def find(self, name: str, kind: str | None = None) -> PluginInfo | None:
        """By plugin name ("euler"), "kind:name", or (for one plugin per distribution) distribution name."""
        if ":" in name:
            kind, _, name = name.partition(":")
        matches = [i for i in self._all().values() if i.name == name and (kind is None or i.kind == kind)]
        if not matches:
            normal = _normal(name)
            matches = [i for i in self._all().values()
                       if i.distribution and _normal(i.distribution) == normal and (kind is None or i.kind == kind)]
        if len(matches) > 1 and len({m.key for m in matches}) > 1:
            kinds = " or ".join(f"'{m.key}'" for m in matches)
            raise PluginError(name, f"'{name}' names more than one plugin: say {kinds}")
        return matches[0] if matches else None

    def get(self, kind: str, name: str) -> PluginInfo:
        """The plugin, usable; PluginError saying why otherwise."""
        info = self.find(name, kind)
        if info is None:
            names = ", ".join(i.name for i in self.plugins(kind, available_only=True))
            raise PluginError(name, f"unknown {kind} '{name}'; available: {names}")
        if info.problem:
            raise PluginError(name, f"the {kind} plugin '{name}' cannot be used: {info.problem}")
        if not info.enabled:
            why = f" after it failed: {info.disabled}" if info.disabled else ""
            raise PluginError(
                name, f"the {kind} plugin '{name}' is disabled{why}; enable it in the plugin manager "
                f"or with `studio plugins enable {name}`",
            )
        return info

    def manifest(self, kind: str, name: str) -> Manifest:
        info = self.get(kind, name)
        assert info.manifest is not None
        return info.manifest

    # code --------------------------------------------------------------------------------------------------------

    def register(self, manifest: Manifest | Mapping, implementation: Any = None, classifier: Any = None) -> PluginInfo:
        """Register a plugin in this process only (tests, scripts): `implementation` is the object itself, or
        None to import the manifest's reference on first use. Replaces an earlier session plugin of that name."""
        manifest = Manifest.from_dict(manifest)
        info = PluginInfo(manifest.name, manifest.kind, "session", manifest)
        with self._lock:
            self._session[info.key] = (info, (implementation, classifier))
            self._forget_code(info.key)
            self._found = None
        return self._all()[info.key]

    def unregister(self, kind: str, name: str) -> None:
        with self._lock:
            self._session.pop(f"{kind}:{name}", None)
            self._forget_code(f"{kind}:{name}")
            self._found = None

    def _forget_code(self, key: str) -> None:
        for cached in [k for k in self._loaded if k.partition("/")[0] == key]:
            del self._loaded[cached]

    def implementation(self, kind: str, name: str) -> Any:
        """The plugin's code (imported on first use). An import failure disables the plugin."""
        info = self.get(kind, name)
        return self._code(info, "implementation")

    def classifier(self, kind: str, name: str) -> Any:
        """A guidance plugin's classifier log-probability function, or None."""
        info = self.get(kind, name)
        if not info.manifest.classifier:
            return None
        return self._code(info, "classifier")

    def _code(self, info: PluginInfo, what: str) -> Any:
        cache_key = f"{info.key}/{what}"
        with self._lock:
            if cache_key in self._loaded:
                return self._loaded[cache_key]
            given = self._session.get(info.key, (None, (None, None)))[1]
            obj = given[0] if what == "implementation" else given[1]
        if obj is None:
            if info.origin == "user":
                self._put_folder_on_path()
            reference = getattr(info.manifest, what)
            try:
                obj = import_object(reference)
            except Exception as error:
                raise self.mark_failed(info.kind, info.name, f"its code could not be imported ({_short(error)})") from error
        with self._lock:
            self._loaded[cache_key] = obj
        return obj

    # state -------------------------------------------------------------------------------------------------------

    def enable(self, name: str) -> PluginInfo:
        info = self._require_known(name)
        self._write_state(info.key, None)
        return self._all()[info.key]

    def disable(self, name: str, reason: str | None = None) -> PluginInfo:
        info = self._require_known(name)
        if info.origin == "builtin" and info.key == "guidance:cfg":
            raise PluginError(info.name, "classifier-free guidance (cfg) is the default guidance and cannot be disabled")
        self._write_state(info.key, reason or "")
        return self._all()[info.key]

    def mark_failed(self, kind: str, name: str, reason: str) -> PluginFailed:
        """Disable a plugin that failed, remembering why; returns the error to raise."""
        try:
            self._write_state(f"{kind}:{name}", reason)
        except OSError:
            pass  # a read-only config folder must not hide the plugin's own error
        return PluginFailed(name, kind, reason)

    def _require_known(self, name: str) -> PluginInfo:
        info = self.find(name)
        if info is None:
            raise PluginError(name, f"no plugin named '{name}'; `studio plugins list` shows them")
        return info

    def _read_state(self) -> dict[str, str]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            disabled = data.get("disabled", {})
            return {str(k): str(v or "") for k, v in disabled.items()} if isinstance(disabled, dict) else {}
        except (OSError, ValueError, AttributeError):
            return {}

    def _write_state(self, key: str, disabled_reason: str | None) -> None:
        with self._lock:
            disabled = self._read_state()
            if disabled_reason is None:
                disabled.pop(key, None)
            else:
                disabled[key] = disabled_reason
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.state_path.parent, prefix=".plugins-", suffix=".json")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"disabled": disabled}, out, indent=2, sort_keys=True)
            os.replace(temporary, self.state_path)
            self._found = None

    # provenance --------------------------------------------------------------------------------------------------

    def provenance(self, sampler: str, guidance: str) -> dict[str, dict[str, str]]:
        """Names and versions of the sampler and guidance plugins a job used, for the result's metadata."""
        result = {}
        for kind, name in (("sampler", sampler), ("guidance", guidance)):
            info = self.find(name, kind)
            entry = {"name": name, "version": info.version if info else "", "origin": info.origin if info else "unknown"}
            if info and info.distribution:
                entry["distribution"] = info.distribution
            result[kind] = entry
        return result


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _inside(dist, folder: Path) -> bool:
    try:
        return Path(str(dist.locate_file(""))).resolve() == folder.resolve()
    except OSError:
        return False


def _describe(info: PluginInfo) -> str:
    if info.origin == "builtin":
        return "a built-in"
    return f"{info.distribution or 'another plugin'} ({info.origin})"


_default: PluginRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> PluginRegistry:
    """The process-wide registry the engine, the window and the CLI share."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PluginRegistry()
        return _default


def set_default_registry(registry: PluginRegistry | None) -> PluginRegistry | None:
    """Swap the process-wide registry (tests); returns the previous one."""
    global _default
    with _default_lock:
        previous, _default = _default, registry
        return previous

