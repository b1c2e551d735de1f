"""Plugins in the window: the sampler and guidance lists come from the registry, a plugin's parameters get
fields whose values reach the recipe and come back from an exported PNG, a recipe naming a plugin that is not
here falls back with a message, and the plugin manager lists, disables, enables and refuses bogus installs."""

import shutil
from pathlib import Path

import pytest

from studio.plugins import PluginRegistry, set_default_registry
from tests.ui.fakes import FakeBackend
from tests.ui.test_main_window import generate_and_wait, ready_window  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]

TEST_SAMPLER = {
    "name": "test_heun", "kind": "sampler", "api_version": 1, "label": "Test Heun", "version": "0.1",
    "description": "a sampler for the window's tests", "implementation": "tests.nowhere:sample",
    "style": "k-diffusion", "schedule": "karras",
    "parameters": [
        {"name": "s_churn", "type": "float", "default": 0.0, "min": 0.0, "max": 100.0, "step": 0.5,
         "label": "Churn", "help": "noise added back per step"},
        {"name": "order", "type": "int", "default": 2, "min": 1, "max": 3},
        {"name": "second_order", "type": "bool", "default": True},
        {"name": "variant", "type": "choice", "default": "a", "choices": ["a", "b"]},
    ],
}


@pytest.fixture
def registry(tmp_path):
    """A registry of its own (state file and plugins folder in the test's folder) with one session sampler."""
    registry = PluginRegistry(state_path=tmp_path / "plugins.json", folder=tmp_path / "plugins", environment=False)
    registry.register(TEST_SAMPLER)
    previous = set_default_registry(registry)
    yield registry
    set_default_registry(previous)


def items(combo):
    return [combo.itemData(i) for i in range(combo.count())]


def test_the_lists_come_from_the_registry(registry, make_window):
    panel = make_window().recipe_panel
    assert {"euler_a", "dpmpp_2m", "test_heun"} <= set(items(panel.sampler))
    assert items(panel.guidance_type)[:3] == ["cfg", "cfg_rescale", "interval"]
    panel.guidance_type.setCurrentIndex(panel.guidance_type.findData("cfg"))
    assert panel.guidance_params.fields == {} and panel.guidance_params.isHidden()


def test_a_plugins_fields_reach_the_recipe_the_worker_receives(qtbot, registry, ready_window):
    backend = FakeBackend()
    window = ready_window(backend)
    panel = window.recipe_panel
    panel.sampler.setCurrentIndex(panel.sampler.findData("test_heun"))
    assert list(panel.sampler_params.fields) == ["s_churn", "order", "second_order", "variant"]
    assert panel.sampler_params.isVisible()
    panel.sampler_params.fields["s_churn"].spin.setValue(2.5)
    panel.sampler_params.fields["variant"].setCurrentIndex(1)
    panel.guidance_type.setCurrentIndex(panel.guidance_type.findData("cfg_rescale"))
    assert list(panel.guidance_params.fields) == ["rescale"] and panel.guidance_params.isVisible()
    panel.guidance_params.fields["rescale"].spin.setValue(0.3)
    generate_and_wait(qtbot, window)
    recipe = backend.requests[0].recipe
    assert (recipe.sampler, recipe.sampler_params) == ("test_heun", {"s_churn": 2.5, "variant": "b"})
    assert (recipe.guidance_type, recipe.guidance_params) == ("cfg_rescale", {"rescale": 0.3})

    panel.sampler.setCurrentIndex(panel.sampler.findData("euler_a"))  # another sampler: its own (no) fields
    assert panel.sampler_params.fields == {} and panel.recipe_values()["sampler_params"] == {}


def test_an_exported_pngs_plugin_values_come_back_and_a_missing_plugin_falls_back(qtbot, registry, ready_window,
                                                                                  tmp_path):
    window = ready_window()
    panel = window.recipe_panel
    panel.sampler.setCurrentIndex(panel.sampler.findData("test_heun"))
    panel.sampler_params.fields["order"].spin.setValue(3)
    panel.sampler_params.fields["second_order"].setChecked(False)
    panel.guidance_type.setCurrentIndex(panel.guidance_type.findData("interval"))
    panel.guidance_params.fields["sigma_low"].spin.setValue(1.5)
    generate_and_wait(qtbot, window)
    exported = window.export_result(0, tmp_path / "out" / "result.png")

    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.guidance_type.setCurrentIndex(panel.guidance_type.findData("cfg"))
    assert window.open_picture(exported)
    assert panel.sampler.currentData() == "test_heun"
    assert panel.sampler_params.changed_values() == {"order": 3, "second_order": False}
    assert panel.guidance_type.currentData() == "interval"
    assert panel.guidance_params.changed_values() == {"sigma_low": 1.5}

    # On a computer without the plugin (a fresh registry), and with interval guidance disabled
    bare = PluginRegistry(state_path=tmp_path / "other.json", folder=tmp_path / "none", environment=False)
    set_default_registry(bare)
    bare.disable("interval")
    window.recipe_panel.reload_plugins()
    assert "test_heun" not in items(panel.sampler) and panel.sampler.currentData() == "dpmpp_2m"
    assert window.open_picture(exported)
    assert panel.sampler.currentData() == "dpmpp_2m" and panel.sampler_params.changed_values() == {}
    assert panel.guidance_type.currentData() == "cfg" and panel.guidance_params.fields == {}
    qtbot.waitUntil(lambda: "not installed" in window.message_bar.text)
    text = window.message_bar.text
    assert "Recipe restored" in text and "sampler 'test_heun' is not installed" in text
    assert "guidance type 'interval' is disabled" in text
    values = panel.recipe_values()
    assert (values["sampler"], values["sampler_params"], values["guidance_type"]) == ("dpmpp_2m", {}, "cfg")


def test_plugin_values_are_remembered_between_launches(registry, make_window):
    panel = make_window().recipe_panel
    panel.sampler.setCurrentIndex(panel.sampler.findData("test_heun"))
    panel.sampler_params.fields["s_churn"].spin.setValue(4.0)
    state = panel.state()
    other = make_window().recipe_panel
    other.restore(state)
    assert other.sampler.currentData() == "test_heun" and other.sampler_params.changed_values() == {"s_churn": 4.0}


# The plugin manager

@pytest.fixture
def manager(registry, make_window):
    from studio.ui.plugin_manager import open_plugin_manager

    window = make_window()
    dialog = open_plugin_manager(window)
    return window, dialog


def test_the_menu_opens_the_manager_which_lists_every_plugin(registry, make_window):
    window = make_window()
    assert window.commands.plugins in window.menuBar().actions()[1].menu().actions()
    window.commands.plugins.trigger()
    dialog = window.plugin_manager_dialog
    assert dialog.isVisible()
    rows = {dialog.table.item(r, 0).text(): [dialog.table.item(r, c).text() for c in range(1, 5)]
            for r in range(dialog.table.rowCount())}
    assert rows["euler_a"][0] == "sampler" and rows["euler_a"][2:] == ["builtin", "enabled"]
    assert rows["cfg_rescale"][0] == "guidance" and rows["test_heun"] == ["sampler", "0.1", "session", "enabled"]
    assert dialog.select("sampler:test_heun") and "a sampler for the window's tests" in dialog.description.toPlainText()
    assert "Churn" in dialog.description.toPlainText()
    assert dialog.select("guidance:cfg") and not dialog.disable_button.isEnabled()  # the default stays
    assert not dialog.remove_button.isEnabled()  # built in


def test_disable_and_enable_reload_the_panels(qtbot, registry, manager):
    window, dialog = manager
    panel = window.recipe_panel
    panel.sampler.setCurrentIndex(panel.sampler.findData("euler_a"))
    assert dialog.select("sampler:euler_a") and dialog.disable_button.isEnabled()
    with qtbot.waitSignal(dialog.plugins_changed):
        dialog.disable_button.click()
    assert "euler_a" not in items(panel.sampler) and panel.sampler.currentData() == "dpmpp_2m"
    assert dialog.selected.name == "euler_a" and dialog.selected.status == "disabled"
    assert dialog.table.item(dialog.row_of("sampler:euler_a"), 4).text() == "disabled"
    assert "Disabled euler_a" in dialog.message_text
    assert "sampler:euler_a" in (registry.state_path.read_text())  # written to the (temporary) state file
    with qtbot.waitSignal(dialog.plugins_changed):
        dialog.enable_button.click()
    assert "euler_a" in items(panel.sampler) and dialog.selected.status == "enabled"


def test_a_bogus_install_is_a_message_in_the_dialog(qtbot, registry, manager, tmp_path):
    window, dialog = manager
    dialog.ask_path = lambda kind: str(tmp_path / "no-such-plugin.whl")
    with qtbot.assertNotEmitted(dialog.plugins_changed), qtbot.waitSignal(dialog.install_finished) as ended:
        dialog.install_wheel.trigger()
    assert ended.args == [False] and dialog.install_button.isEnabled()
    assert dialog.message_text and "Traceback" not in dialog.message_text
    assert "no-such-plugin" in dialog.message_text
    dialog.ask_path = lambda kind: None  # cancelled: nothing happens
    dialog.install_folder.trigger()


def test_installing_and_removing_an_example_plugin(qtbot, registry, manager, tmp_path):
    window, dialog = manager
    source = tmp_path / "src" / "studio-sampler-edm"
    shutil.copytree(ROOT / "plugins" / "studio-sampler-edm", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    dialog.ask_path = lambda kind: str(source)
    with qtbot.waitSignal(dialog.install_finished, timeout=120_000) as ended:
        dialog.install_folder.trigger()
        assert "Installing studio-sampler-edm" in dialog.message_text  # pip runs; the window does not wait
        assert not dialog.install_button.isEnabled() and not dialog.install(source)  # one at a time
    assert ended.args == [True]
    assert "Installed studio-sampler-edm" in dialog.message_text, dialog.message_text
    panel = window.recipe_panel
    assert "edm_heun" in items(panel.sampler) and dialog.selected.name == "edm_heun"
    assert dialog.remove_button.isEnabled()
    panel.sampler.setCurrentIndex(panel.sampler.findData("edm_heun"))
    assert "s_churn" in panel.sampler_params.fields
    dialog.confirm = lambda text: True
    with qtbot.waitSignal(dialog.plugins_changed):
        dialog.remove_button.click()
    assert "edm_heun" not in items(panel.sampler) and panel.sampler.currentData() == "dpmpp_2m"
    assert dialog.row_of("edm_heun") == -1
