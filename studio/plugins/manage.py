"""Installing and removing plugins in the user's plugins folder (for the CLI and the window's plugin manager).

A plugin is a Python distribution (a wheel, or a project folder with a pyproject.toml) whose entry points are
in the groups `studio.samplers` / `studio.guidance`. It is installed with pip into the plugins folder, offline
and without its dependencies (those must already be in Studio's environment: torch is never installed twice).
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from studio.plugins.errors import PluginError
from studio.plugins.registry import PluginInfo, PluginRegistry, _normal, default_registry

REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass
class InstallResult:
    distribution: str
    version: str
    plugins: list[PluginInfo]
    notices: list[str] = field(default_factory=list)


def _folder_dists(folder: Path) -> dict[str, metadata.Distribution]:
    if not folder.is_dir():
        return {}
    return {_normal(d.metadata["Name"] or ""): d for d in metadata.distributions(path=[str(folder)])}


def _stamp(dist: metadata.Distribution) -> tuple[str, int]:
    """Version and the time its .dist-info folder was written: a reinstall of the same version changes it."""
    info_dir = getattr(dist, "_path", None)
    return dist.version, Path(info_dir).stat().st_mtime_ns if info_dir else 0


def install(source: str | Path, registry: PluginRegistry | None = None) -> InstallResult:
    """Install a wheel or a plugin project folder into the plugins folder; returns the plugins it brought."""
    registry = registry or default_registry()
    source = Path(source).expanduser()
    if not source.exists():
        raise PluginError(str(source), f"nothing to install at {source}")
    if source.is_dir() and not any((source / f).exists() for f in ("pyproject.toml", "setup.py", "setup.cfg")):
        raise PluginError(str(source), f"{source} is not a Python project (no pyproject.toml)")
    if source.is_file() and source.suffix != ".whl":
        raise PluginError(str(source), f"{source.name} is not a wheel (.whl) or a project folder")
    target = registry.folder
    target.mkdir(parents=True, exist_ok=True)
    before = {name: _stamp(d) for name, d in _folder_dists(target).items()}
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation",
        "--disable-pip-version-check", "--no-input", "--upgrade", "--target", str(target), str(source.resolve()),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        raise PluginError(str(source), f"pip could not install {source.name}: {lines[-1] if lines else 'unknown error'}")
    after = _folder_dists(target)
    changed = [d for name, d in after.items() if before.get(name) != _stamp(d)]
    if not changed:
        raise PluginError(str(source), f"pip installed nothing new from {source.name}")
    dist = changed[0]
    name = dist.metadata["Name"]
    registry.refresh()
    plugins = [i for i in registry.plugins() if i.distribution and _normal(i.distribution) == _normal(name) and i.origin == "user"]
    if not plugins:
        _remove_distribution(dist, target)
        registry.refresh()
        raise PluginError(
            name, f"{name} declares no Studio plugin (entry points in the groups studio.samplers or studio.guidance); "
            "it was not kept",
        )
    return InstallResult(name, dist.version, plugins, _missing_requirements(dist))


def _missing_requirements(dist: metadata.Distribution) -> list[str]:
    notices = []
    for requirement in dist.requires or []:
        if "extra" in requirement.partition(";")[2]:
            continue
        match = REQUIREMENT_NAME.match(requirement)
        if not match:
            continue
        try:
            metadata.version(match.group(1))
        except metadata.PackageNotFoundError:
            notices.append(f"{dist.metadata['Name']} needs {requirement.strip()}, which is not installed in Studio's environment")
    return notices


def remove(name: str, registry: PluginRegistry | None = None) -> str:
    """Remove the distribution that holds plugin `name` (or is called `name`) from the plugins folder."""
    registry = registry or default_registry()
    dist = _folder_dists(registry.folder).get(_normal(name))
    if dist is not None:  # named by its distribution, which may hold several plugins
        removed = dist.metadata["Name"]
        _remove_distribution(dist, registry.folder)
        registry.refresh()
        return removed
    info = registry.find(name)
    if info is None:
        raise PluginError(name, f"no plugin named '{name}'")
    if info.origin == "builtin":
        raise PluginError(name, f"'{name}' is built into Studio; it can be disabled but not removed")
    if info.origin == "session":
        raise PluginError(name, f"'{name}' was registered by a script for this session only")
    if info.origin == "installed":
        raise PluginError(
            name, f"'{name}' comes from {info.distribution}, installed in Studio's own environment: "
            f"remove it with `pip uninstall {info.distribution}`",
        )
    dist = _folder_dists(registry.folder).get(_normal(info.distribution or ""))
    if dist is None:
        raise PluginError(name, f"{info.distribution} is no longer in {registry.folder}")
    _remove_distribution(dist, registry.folder)
    registry.refresh()
    return info.distribution or name


def _forget_modules(top_level: set[str]) -> None:
    """Drop a removed distribution's modules from this process, so that installing it again (another version,
    from another place) imports the new files instead of the removed package's stale entry."""
    for name in list(sys.modules):
        if name.partition(".")[0] in top_level:
            del sys.modules[name]
    importlib.invalidate_caches()


def _remove_distribution(dist: metadata.Distribution, folder: Path) -> None:
    root = folder.resolve()
    directories = set()
    top_level = set()
    for entry in dist.files or []:
        path = Path(str(dist.locate_file(entry))).resolve()
        if root not in path.parents:
            continue  # a RECORD never sends us outside the plugins folder
        directories.update(p for p in path.parents if root in p.parents)
        if path.suffix == ".py" and not path.relative_to(root).parts[0].endswith((".dist-info", ".data")):
            top_level.add(path.relative_to(root).parts[0].removesuffix(".py"))
        path.unlink(missing_ok=True)
    _forget_modules(top_level)
    info_dir = getattr(dist, "_path", None)
    if info_dir and Path(info_dir).exists() and root in Path(info_dir).resolve().parents:
        shutil.rmtree(info_dir, ignore_errors=True)
    for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
        pycache = directory / "__pycache__"
        if pycache.is_dir() and not any(p for p in pycache.iterdir() if p.suffix != ".pyc"):
            shutil.rmtree(pycache, ignore_errors=True)
        try:
            directory.rmdir()
        except OSError:
            pass  # not empty: something else lives there
