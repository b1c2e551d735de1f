"""Faults never cost the user their work: the document is autosaved and offered back after a crash, and a job that
fails in any way (out of memory, a plugin's exception, even SystemExit) is a message, never the end of the window."""

import sys
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.core.autosave import Autosave, Snapshot
from studio.core.brush import Brush
from studio.core.layers import control_layer
from studio.ui import dialogs
from studio.ui.autosaver import DocumentAutosave
from tests.ui.fakes import FakeBackend
from tests.ui.test_canvas import drag, viewport_point
from tests.ui.test_main_window import generate_and_wait, paint_square
from tests.ui.test_task_panels import choose_task, controlnet_file, make_map  # noqa: F401 (a fixture)

SHORT = 60  # ms of quiet before an autosave, in these tests
ASK_RECOVERY = dialogs.ask_recovery  # the real question (conftest replaces it during each test)


def store() -> Autosave:
    return Autosave()  # $STUDIO_AUTOSAVE_DIR, set for every UI test by conftest


def snapshot_folders() -> list:
    root = store().root
    return sorted(p.name for p in root.iterdir() if p.name.startswith(("snapshot-", ".saving-"))) if root.is_dir() else []


def prepare(window, picture=None, delay_ms=SHORT, max_wait_ms=None):
    """Short autosave times (before the picture opens: its save is scheduled with them), then a canvas to paint on."""
    window.autosave.delay_ms = delay_ms
    if max_wait_ms is not None:
        window.autosave.max_wait_ms = max_wait_ms
    if picture is not None:
        assert window.open_picture(picture)
    canvas = window.canvas
    canvas.set_zoom(3.0)
    canvas.centerOn(48, 32)
    canvas.set_brush(Brush(size=8, hardness=1.0))


def stroke(qtbot, window, a=(20, 20), b=(40, 24)):
    canvas = window.canvas
    drag(qtbot, canvas, [viewport_point(canvas, *a), viewport_point(canvas, *b)])


def saved_now(qtbot, window):
    """Whatever is on screen, on disk (the write in between, if any, done first)."""
    qtbot.waitUntil(lambda: not window.autosave.writing, timeout=5000)
    with qtbot.waitSignal(window.autosave.saved, timeout=5000):
        assert window.autosave.save_now()


def settled(window) -> bool:
    """Every change saved and no write under way (Autosave.load is not meant to run beside a save)."""
    return not window.autosave.dirty and not window.autosave.writing


def crash(window):
    """What a crash leaves: no clean quit, the snapshot on disk, the autosave folder's lock free (its process is gone)."""
    window.autosave.release()


# Autosave

def test_a_stroke_is_autosaved_after_a_quiet_moment_with_exactly_the_mask_painted(qtbot, make_window, picture_file):
    window = make_window()
    saves = []
    window.autosave.saved.connect(lambda: saves.append(time.monotonic()))
    prepare(window, picture_file, delay_ms=300)
    stroke(qtbot, window)
    assert window.document.mask.any()
    assert not store().pending(), "nothing is written while the user is still at work"
    qtbot.waitUntil(lambda: bool(saves), timeout=5000)
    qtbot.wait(400)
    assert len(saves) == 1, "the picture opened and the stroke after it: one save"
    snapshot = store().load()
    assert np.array_equal(snapshot.mask, window.document.mask)
    assert np.array_equal(snapshot.picture, window.document.picture)
    assert snapshot.source == str(picture_file)
    assert snapshot.recipe["prompt"] == window.recipe_panel.prompt.toPlainText()


def test_painting_without_a_pause_is_still_saved_every_so_often(qtbot, make_window, picture_file):
    window = make_window()
    prepare(window, picture_file, delay_ms=10_000, max_wait_ms=150)  # the painting never pauses 10 s
    saves = []
    window.autosave.saved.connect(lambda: saves.append(True))
    started = time.monotonic()
    x = 10
    while not saves and time.monotonic() - started < 5:
        stroke(qtbot, window, (x, 10), (x, 50))
        x = x % 90 + 4
        qtbot.wait(20)
    assert saves, "a save came while the strokes kept coming"


def test_no_picture_no_snapshot(qtbot, make_window):
    window = make_window()
    prepare(window)
    window.recipe_panel.prompt.setPlainText("a prompt, but nothing to paint on")
    qtbot.wait(SHORT * 3)
    assert not window.autosave.save_now()
    assert not store().pending() and snapshot_folders() == []


def test_writes_never_overlap_and_the_last_state_wins(qtbot, tmp_path):
    class SlowStore(Autosave):
        active = 0
        most = 0
        written = []

        def save(self, snapshot):
            SlowStore.active += 1
            SlowStore.most = max(SlowStore.most, SlowStore.active)
            time.sleep(0.05)
            SlowStore.written.append(int(snapshot.mask[0, 0]))
            SlowStore.active -= 1
            return super().save(snapshot)

    state = {"value": 0}

    def snapshot():
        return Snapshot(np.zeros((8, 8, 3), np.uint8), np.full((8, 8), state["value"], np.uint8))

    autosave = DocumentAutosave(snapshot, SlowStore(tmp_path / "slow"))
    assert autosave.claim()
    autosave.start()
    for value in range(1, 6):
        state["value"] = value
        autosave.save_now()
        qtbot.wait(5)
    qtbot.waitUntil(lambda: not autosave.writing, timeout=5000)
    assert SlowStore.most == 1
    assert SlowStore.written[0] == 1 and SlowStore.written[-1] == 5 and len(SlowStore.written) < 5, "coalesced"
    assert autosave.store.load().mask[0, 0] == 5
    autosave.discard()
    autosave.release()


def test_a_failing_disk_is_one_warning_and_the_window_goes_on(qtbot, make_window, picture_file, monkeypatch):
    window = make_window()
    calls = []
    save = window.autosave.store.save

    def broken(snapshot):
        calls.append(True)
        if len(calls) <= 2:
            raise OSError(28, "No space left on device")
        return save(snapshot)

    monkeypatch.setattr(window.autosave.store, "save", broken)
    prepare(window, picture_file)
    qtbot.waitUntil(lambda: "Autosave failed" in window.message_bar.text, timeout=5000)
    assert "No space left" in window.message_bar.text and window.message_bar.level == "warning"
    window.message_bar.dismiss()
    stroke(qtbot, window)
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=5000)
    qtbot.wait(50)
    assert window.message_bar.text == "", "said once, not at every save"
    stroke(qtbot, window, (10, 40), (30, 40))
    qtbot.waitUntil(store().pending, timeout=5000)


# Recovery

def test_after_a_crash_the_next_launch_restores_picture_mask_map_results_and_prompt(
        qtbot, make_window, picture_file, fake_model, controlnet_file, monkeypatch):
    first = make_window(FakeBackend())
    first.models.add_checkpoint(fake_model)
    first.models.add_checkpoint(controlnet_file)
    prepare(first, picture_file)
    stroke(qtbot, first)  # the mask
    choose_task(first, "controlnet")
    unit = first.recipe_panel.controls.units[0]
    make_map(qtbot, first, unit)
    unit.paint_map.setChecked(True)
    stroke(qtbot, first, (10, 50), (60, 50))  # on the map
    unit.paint_map.setChecked(False)
    first.recipe_panel.prompt.setPlainText("a stone bridge over the river")
    first.recipe_panel.steps.setValue(3)
    first.recipe_panel.variations.setValue(2)
    generate_and_wait(qtbot, first)
    expected = {
        "picture": first.document.picture.copy(), "mask": first.document.mask.copy(),
        "map": first.document.layers[control_layer(unit.key)].copy(),
        "results": [r.pixels.copy() for r in first.results.results],
        "seeds": [r.metadata.recipe.seed for r in first.results.results],
        "seed": first.recipe_panel.seed.seed,
    }
    assert len(expected["results"]) == 2 and (expected["map"][50, 20:50] == 255).all() and expected["mask"].any()
    saved_now(qtbot, first)
    crash(first)

    asked = []
    monkeypatch.setattr(dialogs, "ask_recovery", lambda parent, saved_at: asked.append(saved_at) or True)
    again = make_window(FakeBackend())
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert abs(asked[0] - time.time()) < 60
    document = again.document
    assert document is not None and document.source == picture_file
    assert np.array_equal(document.picture, expected["picture"])
    assert np.array_equal(document.mask, expected["mask"])
    [restored_unit] = again.recipe_panel.controls.units
    assert np.array_equal(document.layers[control_layer(restored_unit.key)], expected["map"])
    assert restored_unit.has_map
    assert again.recipe_panel.current_task == "controlnet"
    assert again.recipe_panel.prompt.toPlainText() == "a stone bridge over the river"
    assert again.recipe_panel.steps.value() == 3 and again.recipe_panel.seed.seed == expected["seed"]
    assert again.model_panel.current_path == str(fake_model.resolve())
    assert [r.metadata.recipe.seed for r in again.results.results] == expected["seeds"]
    for restored, pixels in zip(again.results.results, expected["results"]):
        assert np.array_equal(restored.pixels, pixels)
    assert "Restored your work" in again.message_bar.text
    assert again.apply_result(1), "a restored result applies to the restored picture"
    assert np.array_equal(again.document.picture, expected["results"][1])
    again.commands.undo.trigger()
    assert np.array_equal(again.document.picture, expected["picture"])
    stroke(qtbot, again, (70, 10), (80, 10))  # painting on, restored work is the new autosave
    qtbot.waitUntil(lambda: settled(again), timeout=5000)
    assert np.array_equal(store().load().mask, again.document.mask)


def test_a_restored_picture_that_had_a_result_applied_is_not_taken_for_its_file(
        qtbot, make_window, picture_file, fake_model, monkeypatch):
    first = make_window(FakeBackend())
    first.models.add_checkpoint(fake_model)
    prepare(first, picture_file)
    paint_square(first)
    first.recipe_panel.steps.setValue(2)
    generate_and_wait(qtbot, first)
    assert first.apply_result(0)
    saved_now(qtbot, first)
    crash(first)
    monkeypatch.setattr(dialogs, "ask_recovery", lambda parent, saved_at: True)
    backend = FakeBackend()
    again = make_window(backend)
    qtbot.waitUntil(lambda: again.document is not None, timeout=5000)
    assert again.document.source == picture_file and not again.document.picture_is_original
    request = generate_and_wait(qtbot, again)
    assert request.recipe.image != str(picture_file), "the recipe names a saved copy of the picture as it is"


@pytest.mark.parametrize("answer, expected", [("Restore", True), ("Discard", False), (None, True)])
def test_the_recovery_question_says_when_and_only_discard_throws_the_work_away(qtbot, answer, expected):
    seen = []

    def respond():
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen.append(box.text())
        if answer is None:
            box.reject()  # closed with Escape or the title bar
        else:
            next(b for b in box.buttons() if b.text() == answer).click()

    QTimer.singleShot(0, respond)
    saved_at = time.mktime((2024, 5, 6, 14, 5, 0, 0, 0, -1))
    assert ASK_RECOVERY(None, saved_at) is expected
    assert seen[0].startswith("Studio closed unexpectedly. Restore your picture, mask, layers and results from 14:05")
    assert dialogs.saved_time(saved_at, now=saved_at + 60) == "14:05"


def test_discard_removes_the_autosave_and_autosave_goes_on(qtbot, make_window, picture_file, monkeypatch):
    first = make_window()
    prepare(first, picture_file)
    stroke(qtbot, first)
    saved_now(qtbot, first)
    crash(first)

    asked = []
    monkeypatch.setattr(dialogs, "ask_recovery", lambda parent, saved_at: asked.append(saved_at) or False)
    again = make_window()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert again.document is None
    assert not store().pending() and snapshot_folders() == []
    prepare(again, picture_file)
    qtbot.waitUntil(store().pending, timeout=5000)


def test_a_clean_close_leaves_nothing_to_recover(qtbot, make_window, picture_file):
    window = make_window()
    prepare(window, picture_file)
    stroke(qtbot, window)
    saved_now(qtbot, window)
    assert store().pending()
    stroke(qtbot, window, (10, 50), (50, 50))  # a save is due when the window closes
    window.close()
    qtbot.wait(SHORT * 3)
    assert not store().pending() and snapshot_folders() == []
    again = make_window()  # the autouse guard fails the test if it is asked to recover anything
    assert again.document is None


def test_a_second_studio_neither_offers_nor_overwrites_the_first_ones_work(qtbot, make_window, picture_file, tmp_path):
    first = make_window()
    prepare(first, picture_file)
    stroke(qtbot, first)
    saved_now(qtbot, first)
    before = store().load().mask.copy()
    second = make_window()  # the first is still running: no recovery question (the guard would fail)
    assert not second.autosave.owner and "Another Studio" in second.message_bar.text
    prepare(second, picture_file)
    stroke(qtbot, second, (60, 30), (90, 30))
    qtbot.wait(SHORT * 3)
    second.close()
    assert np.array_equal(store().load().mask, before), "the first Studio's snapshot is untouched"


def test_a_damaged_autosave_is_not_offered_and_does_not_stop_the_window(qtbot, make_window, picture_file):
    first = make_window()
    prepare(first, picture_file)
    saved_now(qtbot, first)
    crash(first)
    folder = store().root / (store().root / "current").read_text()
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    again = make_window()  # the guard fails the test if the damaged snapshot is offered
    assert again.isVisible() and again.document is None and not store().pending()


# Jobs that fail

@pytest.fixture
def working_window(make_window, picture_file, fake_model):
    def make(backend):
        window = make_window(backend)
        window.models.add_checkpoint(fake_model)
        assert window.open_picture(picture_file)
        paint_square(window)
        window.recipe_panel.steps.setValue(2)
        return window

    return make


class PluginExit(SystemExit):
    pass


@pytest.mark.parametrize("error, expected", [
    (MemoryError(), "Out of memory"),
    (RuntimeError("a sampler plugin broke"), "The job failed (RuntimeError: a sampler plugin broke)"),
    (RecursionError("maximum recursion depth exceeded"), "RecursionError"),
    (SystemExit(3), "The job failed (SystemExit: 3)"),
    (PluginExit(), "The job failed (PluginExit)"),
    (KeyboardInterrupt(), "The job failed (KeyboardInterrupt)"),
])
def test_whatever_a_job_raises_the_window_lives_and_the_next_job_runs(qtbot, working_window, error, expected):
    backend = FakeBackend(error=error)
    window = working_window(backend)
    picture, mask = window.document.picture.copy(), window.document.mask.copy()
    generate_and_wait(qtbot, window, outcome="failed")
    assert expected in window.message_bar.text and window.message_bar.level == "error"
    assert window.isVisible() and window.worker.thread.isRunning()
    assert np.array_equal(window.document.picture, picture) and np.array_equal(window.document.mask, mask)
    assert window.generate_button.text() == "Generate" and window.generate_button.isEnabled()
    backend.error = None
    generate_and_wait(qtbot, window)
    assert window.results.list.count() == 1


def test_a_control_map_plugin_that_exits_is_a_message(qtbot, working_window):
    backend = FakeBackend(error=SystemExit(1))
    window = working_window(backend)
    choose_task(window, "controlnet")
    unit = window.recipe_panel.controls.units[0]
    unit.make_map.click()
    qtbot.waitUntil(lambda: "Could not make the control map" in window.message_bar.text, timeout=5000)
    assert "SystemExit" in window.message_bar.text and window.document.layers == {}
    backend.error = None
    make_map(qtbot, window, unit)
    assert window.document.has_layer(control_layer(unit.key))


def test_out_of_memory_after_the_engine_retried_is_said_plainly(qtbot, working_window):
    from studio.engine.jobs import OutOfMemory

    backend = FakeBackend(error=OutOfMemory())
    window = working_window(backend)
    mask = window.document.mask.copy()
    generate_and_wait(qtbot, window, outcome="failed")
    assert window.message_bar.text == str(OutOfMemory()) and "out of GPU memory" in window.message_bar.text
    assert np.array_equal(window.document.mask, mask)
    import torch  # already imported by the engine

    backend.error = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")  # not turned into ours
    generate_and_wait(qtbot, window, outcome="failed")
    assert window.message_bar.text.startswith("Out of memory")
    backend.error = None
    generate_and_wait(qtbot, window)


# Errors outside jobs

def test_unexpected_errors_in_any_thread_become_a_message(qtbot, make_window):
    from studio.ui.app import _keep_alive_on_errors

    window = make_window()
    saved_hooks = sys.excepthook, threading.excepthook
    try:
        _keep_alive_on_errors(window)
        thread = threading.Thread(target=lambda: 1 / 0, name="plugin-thread")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: "ZeroDivisionError" in window.message_bar.text, timeout=5000)
        window.message_bar.dismiss()

        def fail_in_pool():
            raise ValueError("from a pool thread")

        QThreadPool.globalInstance().start(fail_in_pool)
        qtbot.waitUntil(lambda: "from a pool thread" in window.message_bar.text, timeout=5000)
        assert "Your picture and mask are kept" in window.message_bar.text and window.isVisible()
    finally:
        sys.excepthook, threading.excepthook = saved_hooks
