"""The window with the real engine and a tiny real checkpoint: load in the worker, generate, show, apply."""

import numpy as np
import pytest

from studio.ui.worker import EngineBackend
from tests.ui.conftest import paint_stroke

pytest.importorskip("torch")
tiny_models = pytest.importorskip("tests.fixtures.tiny_models")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return tiny_models.save_single_file("sd1_inpaint", tmp_path_factory.mktemp("tiny") / "tiny-inpaint.safetensors")


@pytest.mark.timeout(300)
def test_generate_with_a_tiny_model_shows_progress_and_applies(qtbot, make_window, picture_file, tiny_checkpoint):
    window = make_window(EngineBackend())
    window.models.add_checkpoint(tiny_checkpoint)
    assert window.model_panel.current_path == str(tiny_checkpoint.resolve()), window.model_panel.status.text()
    assert window.open_picture(picture_file)
    paint_stroke(window, [(30, 30), (60, 34)], size=20)
    panel = window.recipe_panel
    panel.prompt.setPlainText("a red door")
    panel.steps.setValue(3)
    panel.sampler.setCurrentIndex(panel.sampler.findData("euler"))
    panel.custom_size.setChecked(True)
    panel.width_field.setValue(64)
    panel.height_field.setValue(64)
    panel.mask_feather.setValue(0)  # so the untouched pixels are exactly those outside the painted mask
    steps = []
    before = window.document.picture.copy()
    mask = window.document.mask.copy()
    original_show = window.results.show_progress
    window.results.show_progress = lambda progress: (steps.append((progress.step, progress.total)), original_show(progress))
    with qtbot.waitSignal(window.job_ended, timeout=240_000) as ended:
        window.generate()
        assert window.generate_button.text() == "Cancel"
    assert ended.args == ["finished"], window.message_bar.text
    assert "loaded" in window.model_panel.status.text(), "the model was loaded by the worker, and said so"
    assert steps and steps[-1] == (3, 3)
    assert window.results.list.count() == 1
    result = window.results.results[0]
    assert result.pixels.shape == before.shape
    assert np.array_equal(result.pixels[mask == 0], before[mask == 0])
    assert result.metadata.recipe.model == str(tiny_checkpoint.resolve())
    assert window.apply_result(0)
    assert not np.array_equal(window.document.picture, before)
    window.undo()
    assert np.array_equal(window.document.picture, before)


@pytest.mark.timeout(120)
def test_a_missing_model_is_a_message_and_the_work_is_kept(qtbot, make_window, picture_file, tmp_path, tiny_checkpoint):
    gone = tmp_path / "gone.safetensors"
    gone.write_bytes(tiny_checkpoint.read_bytes())
    window = make_window(EngineBackend())
    window.models.add_checkpoint(gone)
    assert window.open_picture(picture_file)
    paint_stroke(window, [(30, 30)])
    picture, mask = window.document.picture.copy(), window.document.mask.copy()
    gone.unlink()
    with qtbot.waitSignal(window.job_ended, timeout=60_000) as ended:
        window.generate()
    assert ended.args == ["failed"]
    assert "no such file" in window.message_bar.text and window.message_bar.level == "error"
    assert np.array_equal(window.document.picture, picture) and np.array_equal(window.document.mask, mask)
    assert window.generate_button.text() == "Generate" and window.isVisible()
    assert not window.progress.isVisible() and "failed to load" in window.model_panel.status.text()
