"""Studio's pytest plugin for plugin authors (registered as the `pytest11` entry point `studio`).

Fixtures, so that a plugin is tested the way Studio tests its built-ins:

    def test_conformance(check_sampler):
        check_sampler("my_sampler")              # raises ConformanceFailure with a table of errors

    def test_guidance(check_guidance):
        check_guidance("my_guidance", params={"strength": 0.5})

    def test_light_manifest(check_manifest_is_torch_free):
        check_manifest_is_torch_free("my_plugin_package")

`studio_registry` is a registry of the plugins installed in the environment (entry points) with its own
enabled/disabled state, so the user's settings never decide a test. Nothing heavy is imported until a fixture
is used.
"""

from __future__ import annotations

import functools
import subprocess
import sys

import pytest


def pytest_report_header(config):
    from studio.plugins.manifest import API_VERSION

    return f"studio plugin API {API_VERSION}"


@pytest.fixture
def studio_registry(tmp_path):
    from studio.plugins.registry import PluginRegistry

    return PluginRegistry(state_path=tmp_path / "studio-plugins-state.json")


@pytest.fixture
def check_sampler(studio_registry):
    """check_sampler(name_or_manifest, implementation=None, **options) -> ConformanceReport."""
    from studio.testing.conformance import check_sampler as check

    return functools.partial(_with_registry, check, studio_registry)


@pytest.fixture
def check_guidance(studio_registry):
    """check_guidance(name_or_manifest, implementation=None, **options) -> ConformanceReport."""
    from studio.testing.conformance import check_guidance as check

    return functools.partial(_with_registry, check, studio_registry)


def _with_registry(check, registry, *args, **kwargs):
    kwargs.setdefault("registry", registry)
    return check(*args, **kwargs)


@pytest.fixture
def check_manifest_is_torch_free():
    """check_manifest_is_torch_free("package.module"): importing the module that holds the manifest must not
    import torch or diffusers (Studio reads manifests before torch is loaded)."""

    def check(module: str) -> None:
        code = (
            f"import sys, {module}; heavy = [m for m in ('torch', 'diffusers', 'PySide6') if m in sys.modules]; "
            "print(','.join(heavy)); sys.exit(1 if heavy else 0)"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, f"importing {module} imported {done.stdout.strip() or done.stderr.strip()}"

    return check
