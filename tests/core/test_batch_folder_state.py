"""What a batch folder holds, read without touching it (the window's dialog asks before anything is written)."""

from pathlib import Path

from studio.core.export import BatchFolder, ExportSettings, recorded_batch
from studio.core.recipe import Recipe
from studio.core.sweeps import expand


def batch(**changes) -> Recipe:
    return Recipe(task="inpaint", model="/m.safetensors", image="/p.png", mask="/m.png", variations=2).replace(**changes)


def folder_for(path: Path, recipe: Recipe, pattern: str = "{index}") -> BatchFolder:
    return BatchFolder(ExportSettings(path, pattern), recipe, expand(recipe))


def test_holds_tells_nothing_this_or_another_batch_and_changes_nothing(tmp_path):
    out = tmp_path / "out"
    assert folder_for(out, batch()).holds() == "nothing" and not out.exists()
    folder_for(out, batch()).start(resume=False)
    assert folder_for(out, batch()).holds() == "this"
    assert folder_for(out, batch(seed=1)).holds() == "another"
    assert folder_for(out, batch(), "{index}-{seed}").holds() == "another"
    (out / "batch.json").write_text("{ damaged")
    assert folder_for(out, batch()).holds() == "another"


def test_the_recorded_batch_comes_back_as_it_was_started(tmp_path):
    recipe = batch(sweep={"guidance": [2, 9.5]}, seed=7)
    BatchFolder(ExportSettings(tmp_path, "g{guidance}-{index}", "webp"), recipe, expand(recipe)).start(resume=False)
    again, settings = recorded_batch(tmp_path)
    assert again == recipe and (settings.folder, settings.pattern, settings.kind) == (tmp_path, "g{guidance}-{index}", "webp")
    assert folder_for(tmp_path, again, settings.pattern).holds() == "another", "the format is part of the batch"
    assert BatchFolder(settings, again, expand(again)).holds() == "this"
    assert recorded_batch(tmp_path / "none") is None
