"""The batch export dialog, and batches run from the window: fields to recipe and export settings, live job
count and names, problems that block OK, what the folder holds (resume, another batch), and real batches in
the worker (a fake engine through the window; the tiny model with cancel and resume)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from studio.core.export import BatchFolder, ExportSettings
from studio.core.images import load_image, pixel_hash
from studio.core.metadata import ResultMetadata
from studio.core.recipe import Recipe
from studio.core.sweeps import expand
from studio.ui.batch_dialog import BatchDialog
from studio.ui.sweep_fields import parse_values, range_values
from studio.ui.batch_plan import BatchInputs, proposed_folder
from tests.fixtures.pictures import write_mask, write_picture
from tests.ui.fakes import FakeBackend, FakeProgress, FakeResult

TIMEOUT = 10_000


@pytest.fixture
def base(tmp_path) -> Recipe:
    picture = write_picture(tmp_path / "p.png", 64, 64)
    mask = write_mask(tmp_path / "m.png", 64, 64, (16, 16, 48, 48))
    return Recipe(task="inpaint", model="/models/m.safetensors", image=str(picture), mask=str(mask), prompt="a bird",
                  steps=2, seed=40, guidance=7.5, sampler="euler", width=64, height=64)


@pytest.fixture
def make_dialog(qtbot, tmp_path):
    def make(recipe, folder=None, inputs=None, remembered=None):
        dialog = BatchDialog(recipe, inputs, remembered)
        qtbot.addWidget(dialog)
        dialog.folder.setText(str(folder or tmp_path / "out"))
        dialog.refresh()
        return dialog

    return make


def tick(dialog, *sampler_ids):
    axis = dialog.axes["sampler"]
    axis.enabled.setChecked(True)
    for item in axis.items():
        checked = item.data(Qt.ItemDataRole.UserRole) in sampler_ids
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)


def problem(dialog) -> str:
    dialog.refresh()
    return dialog.problem


def invalid(widget) -> bool:
    return widget.property("invalid") is True


# Fields to recipe and export settings

def test_the_fields_give_the_recipe_sweep_and_export_settings(make_dialog, base, tmp_path):
    dialog = make_dialog(base)
    dialog.variations.setValue(2)
    dialog.axes["guidance"].enabled.setChecked(True)
    dialog.axes["guidance"].values.setText("3, 7")
    dialog.axes["steps"].set_range(2, 4, 1)
    tick(dialog, "euler", "dpmpp_2m")
    dialog.pattern.setText("{guidance}-{steps}-{sampler}-{seed}")
    dialog.format.setCurrentIndex(dialog.format.findData("jpeg"))
    dialog.quality.setValue(80)
    plan = dialog.plan()
    assert plan is not None, dialog.problem
    assert plan.recipe.sweep == {"guidance": [3.0, 7.0], "steps": [2, 3, 4], "sampler": ["euler", "dpmpp_2m"]}
    assert (plan.recipe.variations, plan.recipe.seed, plan.recipe.prompt) == (2, 40, "a bird")
    assert plan.settings == ExportSettings(tmp_path / "out", "{guidance}-{steps}-{sampler}-{seed}", "jpeg", 80)
    assert not plan.resume and plan.files == {}
    assert dialog.summary.text() == "24 pictures: guidance 2 × steps 3 × sampler 2 × 2 seeds"
    assert dialog.names_preview.text() == "3.0-2-euler-40.jpg, 3.0-2-euler-41.jpg, 3.0-2-dpmpp_2m-40.jpg, …, 7.0-4-dpmpp_2m-41.jpg"
    assert dialog.ok_button.isEnabled() and dialog.ok_button.text() == "Export"
    assert len(expand(plan.recipe)) == 24
    assert dialog.remembered() == {"folder": str(tmp_path / "out"), "pattern": "{guidance}-{steps}-{sampler}-{seed}",
                                   "kind": "jpeg", "quality": 80, "variations": 2, "batch_size": 0}


def test_a_swept_seed_list_replaces_the_first_seed(make_dialog, base):
    dialog = make_dialog(base)
    dialog.axes["seed"].enabled.setChecked(True)
    dialog.axes["seed"].values.setText("7 100 12")
    plan = dialog.plan()
    assert plan.recipe.sweep == {"seed": [7, 100, 12]}
    assert not dialog.first_seed.isEnabled()
    assert [job.seed for job in expand(plan.recipe)] == [7, 100, 12]


def test_values_and_ranges_parse_per_axis():
    assert parse_values("guidance", " 3, 5.5;7 ") == [3.0, 5.5, 7.0]
    assert parse_values("steps", "20,30") == [20, 30]
    assert range_values("strength", 0.2, 0.8, 0.2) == [0.2, 0.4, 0.6, 0.8]
    assert range_values("steps", 10, 35, 10) == [10, 20, 30]


def test_count_and_names_follow_the_fields_as_they_change(qtbot, make_dialog, base):
    dialog = make_dialog(base)
    assert dialog.summary.text() == "1 picture"
    assert dialog.names_preview.text() == "inpaint-000-seed40.png"
    dialog.variations.setValue(5)
    qtbot.waitUntil(lambda: dialog.summary.text() == "5 pictures", timeout=2000)  # after a short pause in typing
    assert dialog.names_preview.text() == "inpaint-000-seed40.png, inpaint-001-seed41.png, inpaint-002-seed42.png, …, inpaint-004-seed44.png"
    dialog.axes["guidance"].enabled.setChecked(True)
    dialog.axes["guidance"].values.setText("4, 8")
    dialog.pattern.setText("g{guidance:.0f}-{seed}")
    qtbot.waitUntil(lambda: dialog.summary.text() == "10 pictures: guidance 2 × 5 seeds", timeout=2000)
    assert dialog.names_preview.text().startswith("g4-40.png, g4-41.png, g4-42.png, …, g8-44.png")


# Problems are shown and block OK

def test_colliding_names_and_unknown_fields_block_ok(make_dialog, base):
    dialog = make_dialog(base)
    dialog.axes["steps"].enabled.setChecked(True)
    dialog.axes["steps"].values.setText("2, 3")
    dialog.pattern.setText("{task}-{seed}")
    assert "the same name" in problem(dialog) and "add {index}" in dialog.problem
    assert invalid(dialog.pattern) and not dialog.ok_button.isEnabled()
    dialog.pattern.setText("{colour}-{index}")
    assert "field {colour} is unknown" in problem(dialog)
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    dialog.pattern.setText("{task}-{steps}-{seed}")
    assert problem(dialog) == "" and dialog.ok_button.isEnabled() and not invalid(dialog.pattern)


@pytest.mark.parametrize("axis, text, expected", [
    ("guidance", "3, x", "Guidance: 'x' is not a number"),
    ("steps", "0, 10", "Steps: must be between 1 and 1000, got 0"),
    ("steps", "2.5", "Steps: must be a whole number, got 2.5"),
    ("strength", "0.5, 1.5", "Strength: must be between 0.0 and 1.0, got 1.5"),
    ("guidance", "", "Guidance: give at least one value, separated by commas"),
])
def test_invalid_sweep_values_name_their_axis(make_dialog, base, axis, text, expected):
    dialog = make_dialog(base)
    dialog.axes[axis].enabled.setChecked(True)
    dialog.axes[axis].values.setText(text)
    assert problem(dialog) == expected
    assert invalid(dialog.axes[axis].values) and not dialog.ok_button.isEnabled()
    assert dialog.plan() is None


def test_a_backwards_range_an_empty_sampler_list_and_no_folder_block_ok(make_dialog, base):
    dialog = make_dialog(base)
    dialog.axes["strength"].set_range(0.8, 0.2, 0.1)
    assert problem(dialog) == "Strength: 'to' (0.2) is below 'from' (0.8)"
    dialog.axes["strength"].enabled.setChecked(False)
    tick(dialog)
    assert problem(dialog) == "Sampler: tick at least one sampler"
    assert invalid(dialog.axes["sampler"].list)
    tick(dialog, "heun")
    dialog.folder.setText("  ")
    assert problem(dialog) == "Choose a folder for the pictures." and invalid(dialog.folder)
    assert not dialog.ok_button.isEnabled()


def test_controlnet_scale_is_offered_only_with_a_controlnet(make_dialog, base):
    dialog = make_dialog(base)
    assert not dialog.axes["controlnet_scale"].enabled.isEnabled()
    with_unit = base.replace(task="controlnet", controlnets=[{"model": "/models/cn.safetensors", "scale": 0.8}])
    dialog = make_dialog(with_unit)
    dialog.axes["controlnet_scale"].set_range(0.5, 1.0, 0.25)
    plan = dialog.plan()
    assert plan.recipe.sweep == {"controlnet_scale": [0.5, 0.75, 1.0]}
    assert [job.recipe.controlnets[0].scale for job in expand(plan.recipe)] == [0.5, 0.75, 1.0]


def test_lora_weight_is_offered_only_with_a_lora_and_clip_skip_not_for_the_upscaler(make_dialog, base):
    dialog = make_dialog(base)
    assert not dialog.axes["lora_weight"].enabled.isEnabled()
    assert dialog.axes["lora_weight"].enabled.toolTip() == "The recipe has no LoRA"
    assert dialog.axes["clip_skip"].enabled.isEnabled()
    with_lora = base.replace(loras=[{"path": "/models/ink.safetensors", "weight": 0.8}])
    dialog = make_dialog(with_lora)
    assert "Every LoRA" in dialog.axes["lora_weight"].enabled.toolTip()
    dialog.axes["lora_weight"].values.setText("-0.5, 0, 1.25")
    dialog.axes["lora_weight"].enabled.setChecked(True)
    dialog.axes["clip_skip"].set_range(1, 2, 1)
    plan = dialog.plan()
    assert plan.recipe.sweep == {"lora_weight": [-0.5, 0.0, 1.25], "clip_skip": [1, 2]}
    assert [(job.recipe.loras[0].weight, job.recipe.clip_skip) for job in expand(plan.recipe)][:3] == [
        (-0.5, 1), (-0.5, 2), (0.0, 1)]
    assert not make_dialog(base.replace(task="upscale")).axes["clip_skip"].enabled.isEnabled()
    assert make_dialog(base.replace(task="upscale", upscale_factor=2)).axes["clip_skip"].enabled.isEnabled()


def test_hires_strength_is_offered_only_with_a_hires_fix(make_dialog, base):
    dialog = make_dialog(base)
    assert not dialog.axes["hires_strength"].enabled.isEnabled()
    assert dialog.axes["hires_strength"].enabled.toolTip() == "The recipe has no hires fix"
    dialog = make_dialog(base.replace(hires={"factor": 2, "strength": 0.4}))
    assert dialog.axes["hires_strength"].start.value() == 0.4, "its range starts at the recipe's strength"
    dialog.axes["hires_strength"].values.setText("0.3, 0.6")
    dialog.axes["hires_strength"].enabled.setChecked(True)
    plan = dialog.plan()
    assert plan.recipe.sweep == {"hires_strength": [0.3, 0.6]}
    assert [job.recipe.hires.strength for job in expand(plan.recipe)] == [0.3, 0.6]


def test_prompt_search_and_replace_reads_phrases_as_a1111_does(make_dialog, base):
    dialog = make_dialog(base.replace(prompt="a bird on a branch"))
    axis = dialog.axes["prompt_sr"]
    assert not axis.values.isEnabled() and "each phrase replaces it" in axis.enabled.toolTip()
    axis.enabled.setChecked(True)
    axis.values.setText('bird, "owl, at night", crow')
    plan = dialog.plan()
    assert plan.recipe.sweep == {"prompt_sr": ["bird", "owl, at night", "crow"]}
    assert [job.recipe.prompt for job in expand(plan.recipe)] == [
        "a bird on a branch", "a owl, at night on a branch", "a crow on a branch"]
    axis.values.setText("fish, cat")
    assert problem(dialog) == "Prompt S/R: 'fish' (the first value) is in neither the prompt nor the negative prompt: it is what each value replaces"
    axis.set_values(["bird", "owl, at night"])
    assert axis.values.text() == 'bird, "owl, at night"' and axis.sweep_values() == ["bird", "owl, at night"]


# What the folder holds

def test_a_folder_holding_this_batch_offers_resume(make_dialog, base, tmp_path):
    out = tmp_path / "out"
    first = make_dialog(base, out)
    first.variations.setValue(3)
    plan = first.plan()
    folder = BatchFolder(plan.settings, plan.recipe, expand(plan.recipe))
    folder.start(resume=False)
    job = expand(plan.recipe)[0]
    folder.write(job, np.zeros((64, 64, 3), np.uint8), ResultMetadata(job.recipe))

    dialog = make_dialog(base, out)
    dialog.variations.setValue(3)
    dialog.refresh()
    assert dialog.state.kind == "this" and dialog.state.done == 1
    assert "1 of 3 pictures are done" in dialog.folder_state.text()
    assert dialog.resume.isChecked() and not dialog.resume.isHidden()
    assert dialog.ok_button.text() == "Resume" and dialog.plan().resume
    dialog.resume.setChecked(False)
    assert "tick Resume" in problem(dialog) and not dialog.ok_button.isEnabled()


def test_a_folder_holding_another_batch_is_refused_until_its_settings_are_loaded(make_dialog, base, tmp_path):
    out = tmp_path / "out"
    recorded = base.replace(variations=2, seed=7, guidance=5.0, sweep={"guidance": [2, 9]}, batch_size=1)
    BatchFolder(ExportSettings(out, "{index}-{guidance}", "webp"), recorded, expand(recorded)).start(resume=False)

    dialog = make_dialog(base, out)
    assert "holds another batch" in problem(dialog) and invalid(dialog.folder)
    assert not dialog.ok_button.isEnabled() and not dialog.load_recorded.isHidden()
    assert dialog.load_folder_batch()
    assert dialog.problem == "" and dialog.state.kind == "this"
    assert (dialog.variations.value(), int(dialog.first_seed.value()), dialog.batch_size.value()) == (2, 7, 1)
    assert dialog.axes["guidance"].values.text() == "2, 9" and dialog.pattern.text() == "{index}-{guidance}"
    assert dialog.format.currentData() == "webp"
    plan = dialog.plan()
    assert plan.recipe == recorded and plan.resume and plan.settings.kind == "webp"
    dialog.variations.setValue(3)  # an edit makes it a new batch, which this folder cannot take
    assert "holds another batch" in problem(dialog)


def test_files_named_like_the_batch_are_not_overwritten(make_dialog, base, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "inpaint-000-seed40.png").write_bytes(b"not ours")
    dialog = make_dialog(base, out)
    assert "already has files named like" in problem(dialog) and not dialog.ok_button.isEnabled()
    dialog.pattern.setText("mine-{index}")
    assert problem(dialog) == "" and "other files are left alone" in dialog.folder_state.text()


def test_the_inputs_are_copied_into_the_folder_under_stable_names(make_dialog, base, tmp_path):
    picture, mask = load_image(base.image), np.asarray(load_image(base.mask))[..., 0]
    inputs = BatchInputs.of(base, picture, mask)
    plan = make_dialog(base, tmp_path / "out", inputs).plan()
    inputs_folder = tmp_path / "out" / "inputs"
    assert plan.recipe.image == str(inputs_folder / f"picture-{pixel_hash(picture)[:12]}.png")
    assert plan.recipe.mask == str(inputs_folder / f"mask-{pixel_hash(mask)[:12]}.png")
    assert set(plan.files) == {Path(plan.recipe.image), Path(plan.recipe.mask)}
    again = make_dialog(base.replace(image="/session/picture-0001.png"), tmp_path / "out", BatchInputs.of(
        base.replace(image="/session/picture-0001.png"), picture.copy(), mask.copy())).plan()
    assert again.recipe == plan.recipe, "the same pixels give the same recipe, so the batch can be resumed"


def test_the_proposed_folder_is_the_last_one_while_empty_else_a_fresh_one(tmp_path):
    last = tmp_path / "batches" / "sweep"
    assert proposed_folder(str(last)) == last
    last.mkdir(parents=True)
    assert proposed_folder(str(last)) == last
    (last / "batch.json").write_text("{}")
    (tmp_path / "batches" / "batch-001").mkdir()
    assert proposed_folder(str(last)) == tmp_path / "batches" / "batch-002"


# Batches from the window, with a fake engine

class FakeBatchBackend(FakeBackend):
    """The fake engine's batch: the real export folder, flat pictures, one progress report per step."""

    def run_batch(self, recipe, settings, resume, on_progress, cancel, on_written):
        jobs = expand(recipe)
        folder = BatchFolder(settings, recipe, jobs)
        pending = {job.index for job in folder.start(resume)}
        picture = load_image(recipe.image)
        written = []
        for job in jobs:
            if job.index not in pending:
                continue
            for step in range(job.recipe.steps):
                if self.gate is not None:
                    self.gate.acquire(timeout=10)
                cancel.raise_if_cancelled()
                on_progress(FakeProgress(step + 1, job.recipe.steps, job.index, len(jobs)))
            pixels = picture.copy()
            pixels[16:48, 16:48] = (job.seed % 256, int(job.recipe.guidance * 10) % 256, 120)
            meta = ResultMetadata(job.recipe, {"image": pixel_hash(picture)})
            path = folder.write(job, pixels, meta)
            written.append(path)
            on_written(job, path, FakeResult(pixels, meta))
        folder.finish()
        return written


@pytest.fixture
def batch_window(make_window, fake_model, tmp_path):
    from tests.ui.test_main_window import paint_square

    def make(backend=None):
        window = make_window(backend or FakeBatchBackend())
        window.models.add_checkpoint(fake_model)
        assert window.open_picture(write_picture(tmp_path / "photo.png", 64, 48))
        paint_square(window)
        window.recipe_panel.steps.setValue(2)
        window.recipe_panel.seed.seed = 40
        window.recipe_panel.seed.locked = True
        return window

    return make


def test_batch_export_from_the_window_fills_the_comparison_and_applies_a_pick(qtbot, batch_window, tmp_path):
    window = batch_window()
    assert window.commands.batch_export.text() == "&Batch export…"
    window.commands.batch_export.trigger()
    dialog = window.batches.dialog
    assert dialog is not None and dialog.isVisible(), window.message_bar.text
    assert dialog.base.steps == 2 and int(dialog.first_seed.value()) == 40
    dialog.folder.setText(str(tmp_path / "out"))
    dialog.variations.setValue(2)
    dialog.axes["guidance"].enabled.setChecked(True)
    dialog.axes["guidance"].values.setText("3, 7")
    progress = []
    window.batches.runner.progress.connect(progress.append)
    with qtbot.waitSignal(window.batches.ended, timeout=TIMEOUT) as ended:
        dialog.accept()
    assert ended.args == ["finished"], window.message_bar.text
    assert "Batch export done: 4 pictures written" in window.message_bar.text
    assert window.settings.batch["folder"] == str(tmp_path / "out")
    assert [p.items for p in progress] == [4] * 8 and progress[-1].fraction == 1.0
    rows = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [(r["guidance"], r["seed"]) for r in rows] == [(3.0, 40), (3.0, 41), (7.0, 40), (7.0, 41)]
    assert (tmp_path / "out" / "contact-sheet.png").is_file()
    assert len(list((tmp_path / "out" / "inputs").glob("*.png"))) == 2, "picture and mask travel with the batch"

    comparison = window.batches.comparison
    assert comparison.isVisible() and comparison.done == 4 and comparison.status.text().startswith("4 pictures")
    view = comparison.view
    assert view.arrangement.rows == ["guidance 3", "guidance 7"] and view.arrangement.columns == ["seed 40", "seed 41"]
    cell = view.cell_at(1, 0)
    assert cell.caption.text() == "guidance 7 · seed 40" and cell.has_picture
    qtbot.mouseClick(cell, Qt.MouseButton.LeftButton)
    assert len(window.results.results) == 1
    assert window.results.results[0].metadata.recipe.guidance == 7.0
    before = window.document.picture.copy()
    assert window.apply_result(0), window.message_bar.text
    assert not np.array_equal(window.document.picture, before)


def test_a_batch_cancelled_from_the_comparison_keeps_its_pictures_and_resumes(qtbot, batch_window, tmp_path):
    backend = FakeBatchBackend(gated=True)
    window = batch_window(backend)
    dialog = window.batches.ask_batch_export()
    dialog.folder.setText(str(tmp_path / "out"))
    dialog.variations.setValue(4)
    dialog.accept()
    comparison = window.batches.comparison
    backend.release(4)  # two pictures of two steps
    qtbot.waitUntil(lambda: comparison.done == 2, timeout=TIMEOUT)
    assert comparison.cancel_button.isVisible() and "Picture 2 of 4" in comparison.status.text()
    assert window.batches.ask_batch_export() is None and "A batch is running" in window.message_bar.text
    with qtbot.waitSignal(window.batches.ended, timeout=TIMEOUT) as ended:
        comparison.cancel_button.click()
        backend.release()
    assert ended.args == ["cancelled"]
    assert sorted(p.name for p in (tmp_path / "out").glob("inpaint-*.png")) == ["inpaint-000-seed40.png", "inpaint-001-seed41.png"]
    assert len(json.loads((tmp_path / "out" / "index.json").read_text())) == 2, "an interrupted batch is indexed too"
    assert comparison.resume_button.isVisible() and not comparison.cancel_button.isVisible()

    with qtbot.waitSignal(window.batches.ended, timeout=TIMEOUT) as ended:
        comparison.resume_button.click()
    assert ended.args == ["finished"] and "2 pictures written" in window.message_bar.text
    assert len(list((tmp_path / "out").glob("inpaint-*.png"))) == 4 and comparison.done == 4
    assert not list((tmp_path / "out").glob(".*.part"))


def test_open_batch_folder_shows_a_finished_batch_whose_pictures_open(qtbot, batch_window, tmp_path):
    window = batch_window()
    dialog = window.batches.ask_batch_export()
    dialog.folder.setText(str(tmp_path / "out"))
    dialog.variations.setValue(2)
    with qtbot.waitSignal(window.batches.ended, timeout=TIMEOUT):
        dialog.accept()
    window.batches.comparison.close()
    assert window.batches.open_folder(tmp_path / "out")
    view = window.batches.comparison.view
    assert [w.caption.text() for w in view.cells.values()] == ["seed 40", "seed 41"]
    qtbot.waitUntil(lambda: not view.loading, timeout=TIMEOUT)
    assert all(w.has_picture for w in view.cells.values())
    assert not window.batches.open_folder(tmp_path)
    assert "not a batch folder" in window.message_bar.text

    assert window.open_picture(write_picture(tmp_path / "other.png", 64, 48, seed=3))
    qtbot.mouseClick(view.cells[1], Qt.MouseButton.LeftButton)  # made from another picture: it opens, recipe and all
    assert window.document.source == tmp_path / "out" / "inpaint-001-seed41.png"
    assert "Recipe restored" in window.message_bar.text


# The real engine, in the worker

@pytest.mark.timeout(600)
def test_a_tiny_model_batch_runs_in_the_worker_cancels_and_resumes_to_the_full_set(qtbot, make_dialog, tiny_model, tmp_path):
    pytest.importorskip("torch")
    from studio.ui.batch_runner import BatchRunner
    from studio.ui.worker import EngineBackend, WorkerThread

    recipe = Recipe(task="inpaint", model=str(tiny_model("sd1_inpaint")), image=str(write_picture(tmp_path / "p.png", 64, 64)),
                    mask=str(write_mask(tmp_path / "m.png", 64, 64, (16, 16, 48, 48))), prompt="a bird", steps=2,
                    seed=40, sampler="euler", width=64, height=64)
    out = tmp_path / "out"
    worker = WorkerThread(EngineBackend())
    try:
        runner = BatchRunner(worker)
        progress, written = [], []
        runner.progress.connect(progress.append)
        runner.written.connect(lambda index, path, thumb: written.append((index, Path(path).name, thumb.shape)))
        cancel_after_first = lambda *_: runner.request.cancel.cancel()  # noqa: E731 (in the worker thread, at once)
        runner.worker.written.connect(cancel_after_first, Qt.ConnectionType.DirectConnection)

        dialog = make_dialog(recipe, out)
        dialog.variations.setValue(2)
        dialog.batch_size.setValue(1)
        dialog.axes["guidance"].enabled.setChecked(True)
        dialog.axes["guidance"].values.setText("3, 7")
        with qtbot.waitSignal(runner.ended, timeout=300_000) as ended:
            runner.start(dialog.plan())
        assert ended.args[0] == "cancelled", ended.args
        assert [name for _, name, _ in written] == ["inpaint-000-seed40.png"]
        assert written[0][2] == (64, 64, 3)
        assert {(p.item, p.items) for p in progress} == {(0, 4)}, "the cancel lands before the next picture's first step"

        runner.worker.written.disconnect(cancel_after_first)
        resumed = make_dialog(recipe, out)
        resumed.variations.setValue(2)
        resumed.batch_size.setValue(1)
        resumed.axes["guidance"].enabled.setChecked(True)
        resumed.axes["guidance"].values.setText("3, 7")
        plan = resumed.plan()
        assert plan is not None and plan.resume, resumed.problem
        assert "1 of 4 pictures are done" in resumed.folder_state.text()
        written.clear()
        progress.clear()
        with qtbot.waitSignal(runner.ended, timeout=300_000) as ended:
            runner.start(plan)
        assert ended.args == ["finished", "3 pictures written"]
        assert [index for index, _, _ in written] == [1, 2, 3], "finished pictures are not made again"
        fractions = [p.fraction for p in progress]
        assert fractions == sorted(fractions) and fractions[0] > 0.25 and fractions[-1] == 1.0
        names = sorted(p.name for p in out.glob("inpaint-*.png"))
        assert names == ["inpaint-000-seed40.png", "inpaint-001-seed41.png", "inpaint-002-seed40.png", "inpaint-003-seed41.png"]
        rows = json.loads((out / "index.json").read_text())
        assert [(r["guidance"], r["seed"]) for r in rows] == [(3.0, 40), (3.0, 41), (7.0, 40), (7.0, 41)]
        assert not list(out.glob(".*.part"))
    finally:
        assert worker.stop(60_000)


def test_axes_the_model_ignores_are_offered_disabled_with_the_reason(qtbot, base, tmp_path):
    dialog = BatchDialog(base, ignored_axes={"guidance": "ignores guidance", "sampler": "own sampler"})
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(tmp_path / "out"))
    assert dialog.axes["guidance"].enabled.toolTip() == "ignores guidance"
    dialog.axes["guidance"].enabled.setChecked(True)  # e.g. a recorded batch's values: still left out
    tick(dialog, "euler", "ddim")
    dialog.axes["steps"].set_values([2, 3])
    assert dialog.plan().recipe.sweep == {"steps": [2, 3]}
