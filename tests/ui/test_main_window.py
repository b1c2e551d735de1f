"""The window as a person uses it: first run, pictures in, panels to recipe, jobs, results, errors, settings."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from studio.core.brush import Brush
from studio.core.images import load_image
from studio.core.metadata import read_metadata
from tests.ui.conftest import write_picture
from tests.ui.fakes import FILL, FakeBackend


def paint_square(window, left=30, top=20, size=16):
    """Paint with the real brush path (as the canvas would) a filled square of the mask."""
    stroke = window.document.begin_stroke(Brush(size=4, hardness=1.0))
    for y in range(top, top + size, 2):
        stroke.move_to(left, y + 0.5)
        stroke.move_to(left + size, y + 0.5)
    window.canvas.refresh(window.document.end_stroke(stroke))


@pytest.fixture
def ready_window(make_window, picture_file, fake_model):
    def make(backend=None):
        window = make_window(backend or FakeBackend())
        window.models.add_checkpoint(fake_model)
        assert window.open_picture(picture_file)
        paint_square(window)
        window.recipe_panel.steps.setValue(4)
        return window

    return make


def generate_and_wait(qtbot, window, timeout=5000, outcome="finished"):
    with qtbot.waitSignal(window.job_ended, timeout=timeout) as ended:
        request = window.generate()
        assert request is not None, window.message_bar.text
    assert ended.args == [outcome], window.message_bar.text
    return request


# First run and models

def test_first_run_shows_how_to_add_a_model(make_window, fake_model, tmp_path):
    window = make_window()
    assert window.pages.currentWidget() is window.welcome
    assert window.model_panel.current_path is None
    window.models.add_checkpoint(fake_model)
    assert window.pages.currentWidget() is not window.welcome
    assert window.model_panel.current_path == str(fake_model.resolve())
    assert "SD 1.5" in window.model_panel.status.text()


def test_a_models_folder_lists_what_it_finds(make_window, fake_model, tmp_path):
    (fake_model.parent / "notes.txt").write_text("not a model")
    (fake_model.parent / "broken.safetensors").write_bytes(b"garbage")
    window = make_window()
    window.models.add_folder(fake_model.parent)
    names = [window.model_panel.combo.itemText(i) for i in range(window.model_panel.combo.count())]
    assert names == ["broken", "tiny-sd15"]
    assert window.model_panel.current_path == str(fake_model.resolve()), "the usable model is chosen"
    empty = tmp_path / "empty"
    empty.mkdir()
    window.models.add_folder(empty)
    assert "No checkpoints found" in window.message_bar.text


def test_generate_without_model_or_picture_says_what_is_missing(make_window, picture_file):
    window = make_window()
    assert window.generate() is None
    assert "Open a picture first" in window.message_bar.text
    window.open_picture(picture_file)
    assert window.generate() is None
    assert "Add a model first" in window.message_bar.text


# Pictures in

def test_open_drop_and_paste_a_picture(qtbot, make_window, picture_file, tmp_path):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture_file))])
    canvas = window.canvas
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    canvas.dropEvent(drop)
    assert window.document is not None and window.document.source == picture_file
    assert np.array_equal(window.document.picture, load_image(picture_file))
    assert "photo.png" in window.windowTitle()

    pasted = np.zeros((40, 56, 3), np.uint8)
    pasted[:, :, 1] = 200
    image = QImage(pasted.data, 56, 40, 56 * 3, QImage.Format.Format_RGB888).copy()
    QGuiApplication.clipboard().setImage(image)
    window.commands.paste.trigger()
    assert window.document.source is None and window.document.size == (56, 40)
    assert np.array_equal(window.document.picture, pasted)


def test_a_bad_picture_is_a_message_and_the_work_is_kept(qtbot, ready_window, tmp_path):
    window = ready_window()
    picture, mask = window.document.picture.copy(), window.document.mask.copy()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert not window.open_picture(broken)
    assert "broken.png" in window.message_bar.text and window.message_bar.level == "error"
    assert not window.open_picture(tmp_path / "missing.jpg")
    assert np.array_equal(window.document.picture, picture) and np.array_equal(window.document.mask, mask)


# Panels to recipe

def test_sliders_and_fields_set_the_recipe_the_worker_receives(qtbot, ready_window):
    backend = FakeBackend()
    window = ready_window(backend)
    panel = window.recipe_panel
    panel.prompt.setPlainText("a red door")
    panel.negative_prompt.setPlainText("blurry")
    panel.steps.slider.setValue(7)
    assert panel.steps.spin.value() == 7
    panel.guidance.spin.setValue(4.5)
    assert panel.guidance.slider.value() == 45
    panel.strength.slider.setValue(80)
    panel.sampler.setCurrentIndex(panel.sampler.findData("euler_a"))
    panel.seed.seed = 1234
    panel.seed.locked = True
    panel.variations.setValue(2)
    panel.custom_size.setChecked(True)
    panel.width_field.setValue(64)
    panel.height_field.setValue(64)
    panel.mask_grow.spin.setValue(3)
    panel.mask_feather.slider.setValue(25)
    panel.inpaint_area.setCurrentIndex(panel.inpaint_area.findData("masked"))
    panel.mask_padding.spin.setValue(12)
    panel.masked_content.setCurrentIndex(panel.masked_content.findData("fill"))
    generate_and_wait(qtbot, window)
    recipe = backend.requests[0].recipe
    assert (recipe.prompt, recipe.negative_prompt, recipe.steps, recipe.guidance, recipe.strength) == ("a red door", "blurry", 7, 4.5, 0.8)
    assert (recipe.sampler, recipe.seed, recipe.variations, recipe.width, recipe.height) == ("euler_a", 1234, 2, 64, 64)
    assert (recipe.mask_grow, recipe.mask_feather, recipe.inpaint_area, recipe.mask_padding) == (3, 2.5, "masked", 12)
    assert recipe.masked_content == "fill"
    assert recipe.model == window.model_panel.current_path and recipe.task == "inpaint"
    assert recipe.image == str(window.document.source)
    assert Path(recipe.mask).exists() and np.array_equal(np.asarray(Image.open(recipe.mask)), window.document.mask)


def test_an_unlocked_seed_is_new_for_each_job_and_shown(qtbot, ready_window):
    backend = FakeBackend()
    window = ready_window(backend)
    window.recipe_panel.seed.locked = False
    generate_and_wait(qtbot, window)
    generate_and_wait(qtbot, window)
    first, second = (r.recipe.seed for r in backend.requests)
    assert first != second and window.recipe_panel.seed.seed == second


# Jobs

def test_generate_shows_progress_and_results_and_applies_one(qtbot, ready_window):
    backend = FakeBackend(gated=True)
    window = ready_window(backend)
    before = window.document.picture.copy()
    mask = window.document.mask.copy()
    window.generate_button.click()
    assert window.generate_button.text() == "Cancel"
    assert window.progress.isVisible()
    backend.release(1)
    qtbot.waitUntil(lambda: window.progress.value() == 250, timeout=5000)
    assert not window.results.preview.pixmap().isNull(), "the step preview is shown"
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        backend.release()
    assert window.generate_button.text() == "Generate" and not window.progress.isVisible()
    assert window.results.list.count() == 1 and window.results.selected == 0
    assert window.canvas.previewing, "the selected result shows on the canvas"
    assert np.array_equal(window.document.picture, before), "nothing is applied until asked"

    window.results.apply_button.click()
    picture = window.document.picture
    assert not window.canvas.previewing
    assert (picture[mask == 255] == (FILL[0] + window.recipe_panel.seed.seed) % 256).any()
    assert np.array_equal(picture[mask == 0], before[mask == 0])
    window.commands.undo.trigger()
    assert np.array_equal(window.document.picture, before)
    window.commands.redo.trigger()
    assert np.array_equal(window.document.picture, picture)


def test_cancel_stops_the_job_and_the_button_comes_back(qtbot, ready_window):
    backend = FakeBackend(gated=True)
    window = ready_window(backend)
    window.recipe_panel.steps.setValue(50)
    window.generate_button.click()
    backend.release(2)
    qtbot.waitUntil(lambda: backend.steps_run == 2, timeout=5000)
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        window.generate_button.click()  # now "Cancel"
        assert window.generate_button.text() == "Cancelling…"
        backend.release()
    assert ended.args == ["cancelled"]
    assert backend.steps_run <= 3
    assert window.generate_button.text() == "Generate" and window.generate_button.isEnabled()
    assert window.results.list.count() == 0 and window.jobs.job is None


def test_a_failing_job_leaves_the_app_alive_and_the_work_intact(qtbot, ready_window):
    backend = FakeBackend(error=RuntimeError("the GPU caught fire"))
    window = ready_window(backend)
    picture, mask = window.document.picture.copy(), window.document.mask.copy()
    generate_and_wait(qtbot, window, outcome="failed")
    assert "the GPU caught fire" in window.message_bar.text and window.message_bar.level == "error"
    assert np.array_equal(window.document.picture, picture) and np.array_equal(window.document.mask, mask)
    assert window.generate_button.text() == "Generate"
    backend.error = MemoryError()
    generate_and_wait(qtbot, window, outcome="failed")
    assert "Out of memory" in window.message_bar.text
    backend.error = None
    generate_and_wait(qtbot, window)
    assert window.results.list.count() == 1


def test_an_empty_mask_is_a_message_not_a_job(qtbot, ready_window):
    backend = FakeBackend()
    window = ready_window(backend)
    window.clear_mask()
    assert window.generate() is None
    assert "mask is empty" in window.message_bar.text and backend.requests == []


def test_after_an_apply_the_recipe_names_a_saved_copy_of_the_picture(qtbot, ready_window):
    backend = FakeBackend()
    window = ready_window(backend)
    generate_and_wait(qtbot, window)
    window.apply_result(0)
    generate_and_wait(qtbot, window)
    generate_and_wait(qtbot, window)
    second, third = backend.requests[1].recipe, backend.requests[2].recipe
    assert second.image != str(window.document.source) and second.image == third.image
    assert np.array_equal(load_image(second.image), window.document.picture)


# Results out and back in

def test_export_then_open_restores_the_recipe(qtbot, ready_window, tmp_path):
    window = ready_window()
    window.recipe_panel.prompt.setPlainText("a lighthouse at dusk")
    window.recipe_panel.sampler.setCurrentIndex(window.recipe_panel.sampler.findData("heun"))
    window.recipe_panel.guidance.setValue(9.0)
    generate_and_wait(qtbot, window)
    seed = window.results.results[0].metadata.recipe.seed
    exported = window.export_result(0, tmp_path / "out" / "result.png")
    meta = read_metadata(exported)
    assert meta.recipe.prompt == "a lighthouse at dusk" and meta.recipe.seed == seed
    assert np.array_equal(load_image(exported), window.results.results[0].pixels)

    panel = window.recipe_panel
    panel.prompt.setPlainText("something else")
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.guidance.setValue(3.0)
    panel.seed.locked = False
    assert window.open_picture(exported)
    assert panel.prompt.toPlainText() == "a lighthouse at dusk"
    assert panel.sampler.currentData() == "heun" and panel.guidance.value() == 9.0
    assert panel.seed.seed == seed and panel.seed.locked
    assert "Recipe restored" in window.message_bar.text


# Settings

def test_settings_persist_between_launches(qtbot, make_window, fake_model, settings_file):
    window = make_window()
    window.models.add_checkpoint(fake_model)
    window.recipe_panel.prompt.setPlainText("kept prompt")
    window.recipe_panel.steps.setValue(12)
    window.recipe_panel.seed.locked = True
    window.recipe_panel.seed.seed = 77
    window.canvas.setFocus()
    window.resize_brush(lambda size: 33)
    window.close()
    assert settings_file.exists()

    again = make_window()
    assert again.model_panel.current_path == str(fake_model.resolve())
    assert again.recipe_panel.prompt.toPlainText() == "kept prompt"
    assert again.recipe_panel.steps.value() == 12
    assert again.recipe_panel.seed.seed == 77 and again.recipe_panel.seed.locked
    assert again.canvas.brush.size == 33 and again.brush_options.size.value() == 33


def test_a_damaged_settings_file_does_not_stop_the_window(make_window, settings_file):
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text("{ not json", encoding="utf-8")
    window = make_window()
    assert window.isVisible()
    settings_file.write_text('{"panel": {"steps": "many", "sampler": "nope", "prompt": "ok"}, "brush": {"size": "big"}}')
    window.close()
    settings_file.write_text('{"panel": {"steps": "many", "sampler": "nope", "prompt": "ok"}, "brush": {"size": "big"}}')
    again = make_window()
    assert again.recipe_panel.prompt.toPlainText() == "ok"
    assert again.recipe_panel.steps.value() == 30


def test_typing_in_the_prompt_never_triggers_canvas_shortcuts(qtbot, ready_window):
    window = ready_window()
    size, mask = window.canvas.brush.size, window.document.mask.copy()
    prompt = window.recipe_panel.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, "[cabin] by the lake, x e b")
    qtbot.keyClick(prompt, Qt.Key.Key_Home)
    qtbot.keyClick(prompt, Qt.Key.Key_Delete)
    assert prompt.toPlainText() == "cabin] by the lake, x e b"
    qtbot.keyClick(prompt, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert prompt.toPlainText() == "[cabin] by the lake, x e b", "Ctrl+Z undoes the typing, not a stroke"
    assert window.canvas.brush.size == size and not window.canvas.erasing
    assert np.array_equal(window.document.mask, mask)


def test_a_refused_job_does_not_draw_a_new_seed(make_window, picture_file):
    window = make_window()
    window.recipe_panel.seed.seed = 42
    window.recipe_panel.seed.locked = False
    assert window.generate() is None
    assert window.recipe_panel.seed.seed == 42


def test_a_large_picture_opens_in_the_background_and_the_last_asked_wins(qtbot, make_window, tmp_path):
    window = make_window()
    window.pictures.instant_pixels = 100  # every test picture counts as large here
    first = write_picture(tmp_path / "first.png", 80, 60, seed=1)
    second = write_picture(tmp_path / "second.png", 64, 48, seed=2)
    opened = []
    window.picture_opened.connect(opened.append)
    with qtbot.waitSignal(window.picture_opened, timeout=5000):
        assert window.open_picture(first)
        assert window.open_picture(second)
    window.pictures.wait()
    qtbot.wait(20)
    assert opened == [second]
    assert window.document.size == (64, 48)


def test_settings_of_the_wrong_type_never_reach_qt_even_after_torch_compile(make_window, settings_file):
    """Compiled kernels sit in sys.modules under names PySide6 cannot import; a Qt call with wrong argument types
    then aborts the process while wording its TypeError. Remembered values are checked before Qt sees them,
    and engine/speed.py gives the kernels importable parents."""
    import sys

    import torch

    from studio.engine import speed

    compiled = torch.compile(torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.SiLU()))
    compiled(torch.ones(1, 3, 7, 7))
    orphans = [name for name, module in list(sys.modules.items()) if "." in name
               and str(getattr(module, "__file__", "")).endswith(".so") and name.split(".")[0] not in sys.modules]
    assert orphans  # inductor's C++ kernels: what made PySide6 abort
    speed._give_kernels_parents()
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text('{"panel": {"steps": "many", "guidance": [1], "variations": 2.6, "strength": 0.25,'
                             ' "size": ["a", 3], "prompt": "ok"}}')
    window = make_window()
    panel = window.recipe_panel
    assert panel.prompt.toPlainText() == "ok" and panel.steps.value() == 30 and panel.variations.value() == 3
    assert panel.strength.value() == 0.25
    from PySide6.QtWidgets import QSpinBox

    with pytest.raises(TypeError):
        QSpinBox().setValue("many")  # PySide6's own error path survives the compiled kernels


def test_results_made_before_the_canvas_grew_are_not_applied_until_it_is_undone(qtbot, ready_window):
    """A result no longer lines up with a picture whose size changed: Apply says so, and Ctrl+Z makes it fit."""
    window = ready_window()
    generate_and_wait(qtbot, window)
    assert window.expand_canvas(0, 0, 16, 0)
    grown = window.document.picture.copy()
    window.results.select(0)
    assert not window.apply_result(0) and "changed size" in window.message_bar.text
    assert np.array_equal(window.document.picture, grown)
    window.undo()
    assert window.apply_result(0)
