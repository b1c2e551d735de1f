"""Batch export with tiny real models: files, index, contact sheet, reproduction and resuming after kill -9."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import StudioError
from studio.core.export import ExportSettings
from studio.core.metadata import read_metadata
from studio.core.recipe import parse_recipe
from studio.engine.batch import run_batch
from studio.engine.jobs import run_recipe
from tests.fixtures.pictures import write_mask, write_picture


@pytest.fixture
def recipe_data(tiny_model, tmp_path):
    picture = write_picture(tmp_path / "p.png", 64, 64)
    mask = write_mask(tmp_path / "m.png", 64, 64, (16, 16, 48, 48))
    return {"task": "inpaint", "model": str(tiny_model("sd1")), "image": str(picture), "mask": str(mask),
            "prompt": "a bird", "steps": 2, "seed": 40, "width": 64, "height": 64, "sampler": "euler",
            "variations": 2, "sweep": {"guidance": [3.0, 7.0], "steps": [2, 3]}}


def test_a_sweep_exports_every_job_with_index_and_contact_sheet(recipe_data, store, tmp_path):
    out = tmp_path / "out"
    seen = []
    written = run_batch(parse_recipe(recipe_data), store, ExportSettings(out, "{guidance}-{steps}-{seed}"),
                        on_progress=seen.append)
    names = sorted(p.name for p in written)
    assert len(names) == 8 and names[0] == "3.0-2-40.png" and names[-1] == "7.0-3-41.png"
    rows = json.loads((out / "index.json").read_text())
    assert [r["file"] for r in rows] == [p.name for p in written]
    assert rows[5] == {"file": "7.0-2-41.png", "index": 5, "guidance": 7.0, "steps": 2, "seed": 41}
    with open(out / "index.csv") as stream:
        table = list(csv.DictReader(stream))
    assert table[5]["file"] == "7.0-2-41.png" and table[5]["seed"] == "41"
    sheet = Image.open(out / "contact-sheet.png")
    assert sheet.width > 3 * 192 and sheet.height > 2 * 192
    assert json.loads((out / "batch.json").read_text())["jobs"] == 8
    assert {p.item for p in seen} == set(range(8)) and all(p.items == 8 for p in seen)
    meta = read_metadata(out / "7.0-2-41.png")
    assert (meta.recipe.guidance, meta.recipe.steps, meta.recipe.seed, meta.recipe.variations) == (7.0, 2, 41, 1)
    assert not meta.recipe.sweep


@pytest.mark.parametrize("batch_size", [1, 2])
def test_a_batch_item_equals_the_same_job_run_alone(recipe_data, store, tmp_path, batch_size):
    """With several pictures per forward pass, each records its batch and its recipe recomputes it exactly."""
    data = {**recipe_data, "batch_size": batch_size, "variations": 3, "sweep": {"guidance": [3.0, 7.0]}}
    written = run_batch(parse_recipe(data), store, ExportSettings(tmp_path / "out"))
    assert len(written) == 6
    for picked in (written[1], written[5]):
        recipe = read_metadata(picked).recipe
        assert recipe.batch_seeds == ((40, 41) if batch_size == 2 and picked == written[1] else None)
        alone = run_recipe(recipe, store)[0]
        assert np.array_equal(np.asarray(Image.open(picked)), alone.pixels)


@pytest.mark.parametrize("kind, suffix", [("jpeg", ".jpg"), ("webp", ".webp")])
def test_other_formats_carry_the_recipe(recipe_data, store, tmp_path, kind, suffix):
    data = {**recipe_data, "variations": 1, "sweep": {}}
    [path] = run_batch(parse_recipe(data), store, ExportSettings(tmp_path / kind, kind=kind))
    assert path.suffix == suffix and read_metadata(path).recipe.seed == 40


def test_names_that_collide_or_unknown_fields_are_refused(recipe_data, store, tmp_path):
    with pytest.raises(StudioError, match="the same name"):
        run_batch(parse_recipe(recipe_data), store, ExportSettings(tmp_path / "a", "{steps}"))
    with pytest.raises(StudioError, match="field {colour} is unknown"):
        run_batch(parse_recipe(recipe_data), store, ExportSettings(tmp_path / "b", "{colour}-{index}"))


def test_a_folder_holding_another_batch_is_refused(recipe_data, store, tmp_path):
    data = {**recipe_data, "variations": 1, "sweep": {}}
    run_batch(parse_recipe(data), store, ExportSettings(tmp_path / "out"))
    with pytest.raises(StudioError, match="holds another batch"):
        run_batch(parse_recipe({**data, "prompt": "a fish"}), store, ExportSettings(tmp_path / "out"), resume=True)
    with pytest.raises(StudioError, match="already holds this batch"):
        run_batch(parse_recipe(data), store, ExportSettings(tmp_path / "out"))


def test_killed_part_way_then_resumed_gives_exactly_the_full_set(recipe_data, tmp_path):
    data = {**recipe_data, "variations": 3, "steps": 4, "batch_size": 2, "sweep": {"guidance": [2.0, 5.0]}}
    recipe_file = tmp_path / "batch.json"
    recipe_file.write_text(json.dumps(data))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "studio.cli", "run", str(recipe_file), "--out", str(out), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(out.glob("inpaint-*.png"))) < 2:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = sorted(p.name for p in out.glob("inpaint-*.png"))
    assert 2 <= len(before) < 6, "the kill should land part-way through the batch"

    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    newly = [line.rsplit("/", 1)[-1] for line in resumed.stdout.split()]
    after = sorted(p.name for p in out.glob("inpaint-*.png"))
    assert after == [f"inpaint-{i:03d}-seed{40 + i % 3}.png" for i in range(6)]
    assert not set(newly) & set(before), "finished jobs are not run again"
    assert not list(out.glob(".*.part")), "no temporary files are left behind"
    for path in out.glob("inpaint-*.png"):
        with Image.open(path) as image:
            image.verify()
    assert len(json.loads((out / "index.json").read_text())) == 6
