"""Discovery, lazy import, enable/disable and failure handling of the plugin registry."""

import os
import subprocess
import sys

import pytest

from studio.plugins import PluginError, PluginFailed
from studio.plugins.registry import PluginRegistry
from tests.plugins.fake_dists import write_dist


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "plugins"


def registry_over(folder, tmp_path) -> PluginRegistry:
    return PluginRegistry(state_path=tmp_path / "state" / "plugins.json", folder=folder, environment=False)


def test_builtins_and_folder_plugins_are_listed_from_their_manifests(folder, tmp_path):
    package = write_dist(folder, version="2.5.0")
    registry = registry_over(folder, tmp_path)
    plugin = registry.find("fake_euler")
    assert plugin.origin == "user" and plugin.available and plugin.kind == "sampler"
    assert plugin.version == "2.5.0" and plugin.distribution == package.replace("_", "-")
    assert f"{package}.impl" not in sys.modules  # the code is imported only when a job uses it
    assert registry.find("euler").origin == "builtin"
    names = [p.name for p in registry.plugins("sampler", available_only=True)]
    assert names.index("euler") < names.index("fake_euler")


def test_code_is_imported_on_first_use(folder, tmp_path):
    package = write_dist(folder)
    registry = registry_over(folder, tmp_path)
    sample = registry.implementation("sampler", "fake_euler")
    assert sample.__module__ == f"{package}.impl"


def test_a_plugin_that_cannot_be_read_is_listed_with_the_reason_and_the_rest_carry_on(folder, tmp_path):
    write_dist(folder, manifest_code="raise ImportError('needs numpy 9')\n")
    write_dist(folder, {"good_one": {"kind": "sampler", "style": "k-diffusion"}})
    registry = registry_over(folder, tmp_path)
    broken = registry.find("fake_euler")
    assert not broken.available and "ImportError: needs numpy 9" in broken.problem
    assert registry.find("good_one").available
    with pytest.raises(PluginError, match="cannot be used: its manifest could not be read"):
        registry.get("sampler", "fake_euler")


def test_an_incompatible_api_version_is_refused_with_a_clear_message(folder, tmp_path):
    write_dist(folder, {"future": {"kind": "sampler", "style": "k-diffusion", "api_version": 7}})
    registry = registry_over(folder, tmp_path)
    with pytest.raises(PluginError) as error:
        registry.get("sampler", "future")
    assert "written for plugin API 7, but this Studio provides API 1: update Studio" in str(error.value)
    assert "future" not in [name for name, _ in _choices(registry)]


def _choices(registry):
    return [(p.name, p.label) for p in registry.plugins("sampler", available_only=True)]


def test_a_plugin_may_not_take_a_builtin_name(folder, tmp_path):
    write_dist(folder, {"euler": {"kind": "sampler", "style": "k-diffusion"}})
    registry = registry_over(folder, tmp_path)
    assert registry.get("sampler", "euler").origin == "builtin"
    clash = [p for p in registry.plugins("sampler") if p.name == "euler" and p.origin == "user"]
    assert clash and "already taken by a built-in" in clash[0].problem


def test_disabled_state_is_remembered_between_launches(folder, tmp_path):
    write_dist(folder)
    registry = registry_over(folder, tmp_path)
    assert registry.disable("fake_euler").status == "disabled"
    again = registry_over(folder, tmp_path)
    assert not again.find("fake_euler").enabled
    with pytest.raises(PluginError, match="is disabled; enable it in the plugin manager or with `studio plugins enable fake_euler`"):
        again.get("sampler", "fake_euler")
    again.enable("fake_euler")
    assert registry_over(folder, tmp_path).get("sampler", "fake_euler").available


def test_cfg_cannot_be_disabled_but_other_builtins_can(registry):
    with pytest.raises(PluginError, match="cannot be disabled"):
        registry.disable("cfg")
    registry.disable("lms")
    assert "lms" not in [name for name, _ in _choices(registry)]


def test_code_that_fails_to_import_disables_the_plugin_with_the_reason(folder, tmp_path):
    write_dist(folder, code="import a_module_that_is_not_there\n")
    registry = registry_over(folder, tmp_path)
    with pytest.raises(PluginFailed, match="could not be imported .ModuleNotFoundError"):
        registry.implementation("sampler", "fake_euler")
    later = registry_over(folder, tmp_path).find("fake_euler")
    assert not later.enabled and "ModuleNotFoundError" in later.disabled and "ModuleNotFoundError" in later.status


def test_names_resolve_by_kind_and_by_distribution(folder, tmp_path):
    package = write_dist(folder, {"twin": {"kind": "sampler", "style": "k-diffusion"},
                                  "twin_g": {"kind": "guidance"}})
    registry = registry_over(folder, tmp_path)
    assert registry.find("guidance:twin_g").kind == "guidance"
    with pytest.raises(PluginError, match="names more than one plugin"):
        registry.find(package.replace("_", "-"))  # a distribution with two plugins: say which
    single = write_dist(folder, {"single": {"kind": "sampler", "style": "k-diffusion"}})
    registry.refresh()
    assert registry.find(single.replace("_", "-")).name == "single"
    registry.register({"name": "twin", "kind": "guidance", "version": "1", "api_version": 1, "implementation": "m:g"})
    with pytest.raises(PluginError, match="names more than one plugin: say 'guidance:twin' or 'sampler:twin'"):
        registry.find("twin")


def test_provenance_names_plugin_versions(folder, tmp_path):
    package = write_dist(folder, version="0.3.1")
    registry = registry_over(folder, tmp_path)
    assert registry.provenance("fake_euler", "cfg") == {
        "sampler": {"name": "fake_euler", "version": "0.3.1", "origin": "user", "distribution": package.replace("_", "-")},
        "guidance": {"name": "cfg", "version": registry.find("cfg").version, "origin": "builtin"},
    }


def test_the_listing_api_never_imports_torch(folder, tmp_path):
    write_dist(folder)
    code = (
        "import sys, studio.plugins as p; "
        "assert p.list_plugins() and ('euler', 'Euler') in p.sampler_choices() and p.guidance_choices(); "
        "assert p.parameter_specs('guidance', 'cfg_rescale')[0].maximum == 1.0; "
        "assert 'fake_euler' in [i.name for i in p.installed_plugins()]; "
        "heavy = [m for m in ('torch', 'diffusers', 'PySide6') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))"
    )
    env = dict(os.environ, STUDIO_PLUGINS_DIR=str(folder))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
