"""Windows for the UI tests: each with its own settings file and user folders, driven by a fake engine
unless a test passes another backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.ui.fakes import FakeBackend


@pytest.fixture(scope="session", autouse=True)
def gui_thread_gc(qapp):
    """As in the app: cycles are collected in the UI thread only, so a test's worker thread never destroys a Qt
    object left over from an earlier test."""
    from studio.ui.gui_thread_gc import collect_in_gui_thread

    collector = collect_in_gui_thread(qapp)
    yield collector
    collector.stop()


@pytest.fixture(autouse=True)
def collect_after_each_test(gui_thread_gc):
    yield
    gui_thread_gc.check()  # in the UI thread, after the test's widgets are closed


@pytest.fixture(autouse=True)
def user_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("STUDIO_AUTOSAVE_DIR", str(tmp_path / "autosave"))
    return tmp_path


@pytest.fixture(autouse=True)
def no_recovery_dialog(monkeypatch):
    """A modal question would hang an offscreen test: a test that expects one answers it (window.recovery_prompt)."""
    from studio.ui import dialogs

    def unexpected(parent, saved_at):
        raise AssertionError("unexpected recovery question: an autosave was left by an earlier window")

    monkeypatch.setattr(dialogs, "ask_recovery", unexpected)


@pytest.fixture
def settings_file(tmp_path) -> Path:
    return tmp_path / "config" / "studio" / "settings.json"


@pytest.fixture
def make_window(qtbot, settings_file):
    from studio.ui.main_window import MainWindow

    def make(backend=None, preload_models=False, **options):
        window = MainWindow(backend=backend if backend is not None else FakeBackend(), settings_file=settings_file,
                            preload_models=preload_models, **options)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.wait(1)  # lets the first-show work run before the test acts
        return window

    return make


@pytest.fixture
def panel(qtbot):
    """The job panel on its own, shown."""
    from studio.ui.panels import RecipePanel

    widget = RecipePanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def choose(combo, key) -> None:
    """Pick the combo box entry whose data is `key` (a task, a sampler, an area…)."""
    combo.setCurrentIndex(combo.findData(key))
    assert combo.currentData() == key


def paint_stroke(window, points, size: float = 20, hardness: float = 1.0) -> None:
    """Paint the mask along `points` (picture pixels) through the document's brush path, as the canvas does."""
    from studio.core.brush import Brush

    stroke = window.document.begin_stroke(Brush(size=size, hardness=hardness))
    for x, y in points:
        stroke.move_to(x, y)
    window.canvas.refresh(window.document.end_stroke(stroke))


def write_picture(path: Path, width: int = 96, height: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x * 3 + y) % 256], axis=2)
    pixels = np.clip(base + rng.integers(-10, 10, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def picture_file(tmp_path) -> Path:
    return write_picture(tmp_path / "photo.png")


@pytest.fixture
def fake_model(tmp_path) -> Path:
    """A file that lists as an SD 1.5 checkpoint (its header says so); the fake backend never reads it."""
    from safetensors.numpy import save_file

    path = tmp_path / "models" / "tiny-sd15.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({
        "model.diffusion_model.input_blocks.0.0.weight": np.zeros((4, 4, 1, 1), np.float32),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": np.zeros((2, 2), np.float32),
    }, str(path))
    return path
