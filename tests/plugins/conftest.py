"""Plugin tests: each test gets its own registry (own enabled/disabled state, own plugins folder), and engine
tests see it as the process-wide one that jobs use."""

import pytest

from studio.plugins.registry import PluginRegistry, set_default_registry


@pytest.fixture
def registry(tmp_path):
    """Built-ins and session plugins only: nothing installed in the environment interferes."""
    return PluginRegistry(state_path=tmp_path / "state" / "plugins.json", folder=tmp_path / "plugins", environment=False)


@pytest.fixture
def job_registry(registry):
    """`registry`, installed as the default one for the duration of the test (run_recipe uses the default)."""
    previous = set_default_registry(registry)
    yield registry
    set_default_registry(previous)
