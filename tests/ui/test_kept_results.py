"""Every result is also written, with its recipe, to the day's outputs folder (as AUTOMATIC1111 keeps its
outputs), so a new job replacing the strip loses nothing; it can be switched off, and a disk that refuses the
file is a notice, not a failed job."""

import json

from studio.core.metadata import read_metadata
from studio.core.outputs import day_folder, outputs_dir
from tests.ui.test_main_window import generate_and_wait, ready_window  # noqa: F401 (the fixture)


def kept(window):
    folder = day_folder(outputs_dir())
    return sorted(folder.glob("*.png")) if folder.is_dir() else []


def test_every_result_is_kept_with_its_recipe(qtbot, ready_window):
    window = ready_window()
    window.recipe_panel.variations.setValue(2)
    generate_and_wait(qtbot, window)
    generate_and_wait(qtbot, window)
    files = kept(window)
    assert [f.name.split("-")[0] for f in files] == ["00001", "00002", "00003", "00004"]
    assert window.results.results[0].kept == files[2] and read_metadata(files[3]).recipe.task == "inpaint"
    assert f"Kept as {files[2]}" in window.results.list.item(0).toolTip()


def test_keeping_can_be_switched_off_and_stays_off(qtbot, ready_window, settings_file):
    window = ready_window()
    window.commands.keep_results.trigger()
    assert not window.settings.keep_results and not window.commands.keep_results.isChecked()
    generate_and_wait(qtbot, window)
    assert kept(window) == [] and window.results.results[0].kept is None
    window.close()
    assert json.loads(settings_file.read_text())["keep_results"] is False


def test_a_folder_that_cannot_be_written_is_a_notice(qtbot, ready_window, monkeypatch, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    window = ready_window()
    window.jobs.keep_in = lambda: blocked
    generate_and_wait(qtbot, window)
    assert any("not kept in" in notice for notice in window.results.results[0].notices)
