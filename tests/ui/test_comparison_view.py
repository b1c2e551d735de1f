"""The comparison view: pictures laid out by their swept values, labelled, read from a batch folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from studio.core.errors import StudioError
from studio.core.export import BatchFolder, ExportSettings
from studio.core.metadata import ResultMetadata
from studio.core.recipe import Recipe
from studio.core.sweeps import expand
from studio.ui.comparison_view import Cell, ComparisonView, ComparisonWindow, arrange, cells_from_folder

TIMEOUT = 5000


def recipe(**changes) -> Recipe:
    base = Recipe(task="inpaint", model="/models/m.safetensors", image="/p.png", mask="/m.png", seed=40, steps=2)
    return base.replace(**changes)


def cells_of(batch: Recipe) -> list[Cell]:
    return [Cell(job.index, dict(job.swept)) for job in expand(batch)]


def export(folder: Path, batch: Recipe, pattern: str = "{index:03d}", missing: tuple[int, ...] = (), finish=True) -> list[Path]:
    """A batch folder as the engine leaves it, with flat pictures whose colour tells the job."""
    jobs = expand(batch)
    batch_folder = BatchFolder(ExportSettings(folder, pattern), batch, jobs)
    batch_folder.start(resume=False)
    paths = []
    for job in jobs:
        if job.index not in missing:
            pixels = np.full((32, 48, 3), (job.index * 20, 80, 160), np.uint8)
            paths.append(batch_folder.write(job, pixels, ResultMetadata(job.recipe)))
    if finish:
        batch_folder.finish()
    return paths


@pytest.fixture
def view(qtbot):
    widget = ComparisonView()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    return widget


def captions(view: ComparisonView, rows: int, columns: int) -> list[list[str]]:
    return [[view.cell_at(r, c).caption.text() for c in range(columns)] for r in range(rows)]


def test_a_two_axis_sweep_has_a_row_per_guidance_and_a_column_per_steps(view):
    view.set_cells(cells_of(recipe(sweep={"guidance": [3.0, 7.5], "steps": [10, 20, 30]})))
    assert view.arrangement.rows == ["guidance 3", "guidance 7.5"]
    assert view.arrangement.columns == ["steps 10", "steps 20", "steps 30"]
    assert captions(view, 2, 3) == [
        ["guidance 3 · steps 10 · seed 40", "guidance 3 · steps 20 · seed 40", "guidance 3 · steps 30 · seed 40"],
        ["guidance 7.5 · steps 10 · seed 40", "guidance 7.5 · steps 20 · seed 40", "guidance 7.5 · steps 30 · seed 40"],
    ]
    assert view.cell_at(1, 2).cell.index == 5 and view.cell_at(2, 0) is None
    headers = [label.text() for label in view.widget().findChildren(type(view.cell_at(0, 0).caption))
               if label.objectName() == "comparisonHeader"]
    assert headers == ["steps 10", "steps 20", "steps 30", "guidance 3", "guidance 7.5"]


def test_variations_become_the_columns_and_the_swept_values_the_rows():
    arrangement = arrange(cells_of(recipe(variations=3, sweep={"sampler": ["euler", "heun"], "guidance": [4.0, 8.0]})))
    assert arrangement.columns == ["seed 40", "seed 41", "seed 42"]
    assert arrangement.rows == ["guidance 4 · sampler euler", "guidance 4 · sampler heun",
                                "guidance 8 · sampler euler", "guidance 8 · sampler heun"]
    assert arrangement.positions[0] == (0, 0) and arrangement.positions[11] == (3, 2)


def test_one_varying_value_is_a_row_or_a_wrapped_grid_and_overlapping_cells_fall_back_to_a_flat_grid():
    few = arrange(cells_of(recipe(variations=4)))
    assert few.rows == [] and few.columns == ["seed 40", "seed 41", "seed 42", "seed 43"]
    many = arrange(cells_of(recipe(variations=12)))
    assert many.rows == many.columns == [] and many.positions[0] == (0, 0) and many.positions[5] == (1, 0)
    overlapping = arrange(cells_of(recipe(variations=2, sweep={"seed": [1, 2]})))  # seeds 1, 2, 2, 3
    assert overlapping.rows == overlapping.columns == []
    assert sorted(overlapping.positions.values()) == [(0, 0), (0, 1), (0, 2), (1, 0)]


def test_a_finished_folder_opens_from_its_index_with_every_picture(qtbot, view, tmp_path):
    batch = recipe(variations=2, sweep={"guidance": [3.0, 7.0]})
    paths = export(tmp_path / "out", batch, "g{guidance}-{seed}")
    (tmp_path / "out" / "batch.json").unlink()  # the index alone is enough
    cells = cells_from_folder(tmp_path / "out")
    assert [(cell.index, cell.path.name) for cell in cells] == [(i, p.name) for i, p in enumerate(paths)]
    view.set_cells(cells)
    assert captions(view, 2, 2) == [["guidance 3 · seed 40", "guidance 3 · seed 41"],
                                    ["guidance 7 · seed 40", "guidance 7 · seed 41"]]
    qtbot.waitUntil(lambda: not view.loading, timeout=TIMEOUT)
    image = view.cell_at(1, 1).picture.pixmap().toImage()
    assert image.width() > 100 and image.pixelColor(image.width() // 2, image.height() // 2).red() == 60
    with qtbot.waitSignal(view.picture_chosen, timeout=TIMEOUT) as chosen:
        qtbot.mouseClick(view.cell_at(1, 0), Qt.MouseButton.LeftButton)
    assert chosen.args == [tmp_path / "out" / "g7.0-40.png"]


def test_an_interrupted_folder_shows_its_missing_pictures_and_offers_resume(qtbot, tmp_path):
    batch = recipe(sweep={"steps": [2, 3], "guidance": [5.0, 6.0]})
    export(tmp_path / "out", batch, missing=(1, 3), finish=False)
    window = ComparisonWindow()
    qtbot.addWidget(window)
    window.show_folder(tmp_path / "out", cells_from_folder(tmp_path / "out"))
    view = window.view
    assert view.arrangement.rows == ["guidance 5", "guidance 6"] and view.arrangement.columns == ["steps 2", "steps 3"]
    assert [view.cell_at(r, c).cell.path is not None for r in range(2) for c in range(2)] == [True, False, True, False]
    assert view.cell_at(0, 1).picture.text() == "not made yet"
    assert window.status.text() == "2 of 4 pictures" and not window.resume_button.isHidden()
    with qtbot.assertNotEmitted(view.picture_chosen):
        qtbot.mouseClick(view.cell_at(0, 1), Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.resume_requested, timeout=TIMEOUT) as resume:
        window.resume_button.click()
    assert resume.args == [tmp_path / "out"]


def test_a_running_batch_fills_its_cells_as_pictures_arrive(qtbot, tmp_path):
    window = ComparisonWindow()
    qtbot.addWidget(window)
    window.show_folder(tmp_path, cells_of(recipe(variations=2)))
    window.set_running(True)
    assert not window.cancel_button.isHidden() and window.resume_button.isHidden()
    assert window.view.cells[0].picture.text() == "waiting…"
    window.add_picture(1, str(tmp_path / "b.png"), np.full((16, 16, 3), 200, np.uint8))
    assert window.view.cells[1].has_picture and not window.view.cells[0].has_picture and window.done == 1
    with qtbot.waitSignal(window.cancel_requested, timeout=TIMEOUT):
        window.cancel_button.click()
    assert window.cancel_button.text() == "Cancelling…"
    window.ended("Cancelled")
    assert window.status.text() == "1 of 2 pictures · Cancelled" and not window.resume_button.isHidden()


def test_a_folder_without_a_batch_is_refused(tmp_path):
    with pytest.raises(StudioError, match="not a batch folder"):
        cells_from_folder(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"file": "x.png"}))
    with pytest.raises(StudioError, match="not a batch index"):
        cells_from_folder(tmp_path)
