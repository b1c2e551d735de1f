"""The example plugins in plugins/: installed with `studio plugins install` into a plugins folder, found through
their entry points, used in a job on a tiny real model, checked for conformance, then removed."""

import argparse
import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.recipe import parse_recipe
from studio.engine.jobs import run_recipe
from studio.plugins import cli, plugin_provenance
from studio.plugins.manage import install, remove
from studio.plugins.registry import PluginRegistry, set_default_registry
from studio.testing.conformance import check_guidance, check_sampler
from tests.fixtures.pictures import write_picture

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("studio-sampler-edm", "studio-guidance-apg")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Both examples installed into a fresh plugins folder; the registry over it is the process-wide one."""
    base = tmp_path_factory.mktemp("example-plugins")
    registry = PluginRegistry(state_path=base / "state.json", folder=base / "plugins", environment=False)
    results = []
    for name in EXAMPLES:
        source = base / "src" / name  # a copy: building writes build/ and *.egg-info next to the sources
        shutil.copytree(ROOT / "plugins" / name, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        results.append(install(source, registry))
    registry.sources = {name: base / "src" / name for name in EXAMPLES}
    previous = set_default_registry(registry)
    yield registry, results
    set_default_registry(previous)


def test_install_finds_the_plugins_through_their_entry_points(installed):
    registry, results = installed
    assert [(r.distribution, r.version, [p.name for p in r.plugins]) for r in results] == [
        ("studio-sampler-edm", "1.0.0", ["edm_heun"]), ("studio-guidance-apg", "1.0.0", ["apg"])]
    assert all(r.notices == [] for r in results)  # their requirements (studio, torch) are in the environment
    edm = registry.find("edm_heun")
    assert edm.origin == "user" and edm.available and [p.name for p in edm.parameters][:1] == ["s_churn"]
    assert registry.find("apg").manifest.cfg_equivalent == {"eta": 1.0, "norm_threshold": 0.0, "momentum": 0.0}


def test_both_run_in_a_job_and_are_named_in_its_provenance(installed, tiny_model, store, tmp_path):
    picture = write_picture(tmp_path / "p.png", 64, 48)
    recipe = parse_recipe({
        "task": "sdedit", "model": str(tiny_model("sd1")), "image": str(picture), "prompt": "a boat", "steps": 4,
        "strength": 0.75, "seed": 2, "sampler": "edm_heun", "sampler_params": {"s_churn": 2.0, "s_noise": 1.003},
        "guidance_type": "apg", "guidance_params": {"eta": 0.2}, "guidance": 6.0, "width": 64, "height": 48,
    })
    [result] = run_recipe(recipe, store)
    assert result.pixels.shape == (48, 64, 3) and np.isfinite(result.pixels).all()
    provenance = plugin_provenance(recipe)
    assert provenance["sampler"] == {"name": "edm_heun", "version": "1.0.0", "origin": "user",
                                     "distribution": "studio-sampler-edm"}
    assert provenance["guidance"]["distribution"] == "studio-guidance-apg"


def test_both_pass_the_conformance_check(installed):
    registry, _ = installed
    check_sampler("edm_heun", registry=registry, samples=8192, prediction_types=("epsilon",))  # v: its own suite
    check_guidance("apg", registry=registry, samples=8192, samplers=("euler",))


def test_the_cli_lists_disables_and_removes_them(installed, capsys):
    registry, _ = installed
    assert cli.run(argparse.Namespace(plugins_command="list", kind=None, json=True), registry) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["edm_heun"]["origin"] == "user" and listed["euler"]["origin"] == "builtin"
    cli.run(argparse.Namespace(plugins_command="disable", name="edm_heun"), registry)
    assert "sampler 'edm_heun': disabled" in capsys.readouterr().out
    cli.run(argparse.Namespace(plugins_command="enable", name="edm_heun"), registry)
    assert "sampler 'edm_heun': enabled" in capsys.readouterr().out
    cli.run(argparse.Namespace(plugins_command="list", kind="guidance", json=False), registry)
    table = capsys.readouterr().out
    assert "apg" in table and "user (studio-guidance-apg)" in table and "edm_heun" not in table
    package = registry.folder / "studio_guidance_apg"
    assert package.is_dir()
    assert remove("studio-guidance-apg", registry) == "studio-guidance-apg"
    assert registry.find("apg") is None and not package.exists()
    assert not list(registry.folder.glob("studio_guidance_apg-*.dist-info"))
    cli.run(argparse.Namespace(plugins_command="install", source=str(registry.sources["studio-guidance-apg"])), registry)
    assert "installed studio-guidance-apg 1.0.0: guidance 'apg'" in capsys.readouterr().out
    assert registry.find("apg").available


def test_a_folder_without_plugins_is_not_kept(tmp_path):
    project = tmp_path / "not_a_plugin"
    (project / "src" / "plain_lib").mkdir(parents=True)
    (project / "src" / "plain_lib" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "plain-lib"\nversion = "0.1"\n[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    )
    registry = PluginRegistry(state_path=tmp_path / "s.json", folder=tmp_path / "plugins", environment=False)
    from studio.plugins import PluginError

    with pytest.raises(PluginError, match="declares no Studio plugin"):
        install(project, registry)
    assert not (tmp_path / "plugins" / "plain_lib").exists()


def test_the_examples_own_test_suites_pass(installed):
    """Each example's own tests, run as its author would, with Studio's pytest plugin and the full check."""
    registry, _ = installed
    env = dict(os.environ, PYTHONPATH=str(registry.folder))
    tests = [str(ROOT / "plugins" / name / "tests") for name in EXAMPLES]
    registered = any(ep.value == "studio.testing.pytest_plugin" for ep in metadata.entry_points(group="pytest11"))
    plugin = [] if registered else ["-p", "studio.testing.pytest_plugin"]  # before `pip install -e .` picks it up
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *plugin, "-p", "no:cacheprovider", *tests],
                          capture_output=True, text=True, env=env, cwd=registry.folder)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_a_removed_plugin_installs_again_from_elsewhere_in_the_same_session(tmp_path):
    """Removing forgets the plugin's modules: the next install imports its new files, not the removed ones."""
    for place in ("first", "second"):
        registry = PluginRegistry(state_path=tmp_path / place / "state.json", folder=tmp_path / place / "plugins",
                                  environment=False)
        source = tmp_path / place / "src"
        shutil.copytree(ROOT / "plugins" / "studio-sampler-edm", source,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        install(source, registry)
        assert callable(registry.implementation("sampler", "edm_heun"))
        assert remove("studio-sampler-edm", registry) == "studio-sampler-edm"
        assert not any(name.startswith("studio_sampler_edm") for name in sys.modules)
