import numpy as np

from studio.core.autosave import Autosave, Snapshot
from studio.core.metadata import ResultMetadata
from studio.core.recipe import parse_recipe

RECIPE = parse_recipe({"task": "inpaint", "model": "m", "image": "p.png", "mask": "m.png", "seed": 3})


def snapshot(value: int) -> Snapshot:
    rng = np.random.default_rng(value)
    return Snapshot(
        picture=rng.integers(0, 255, (20, 30, 3), dtype=np.uint8),
        mask=rng.integers(0, 2, (20, 30), dtype=np.uint8) * 255,
        layers={"control": rng.integers(0, 255, (20, 30, 3), dtype=np.uint8),
                "map:2/edges": rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)},
        results=[(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8), ResultMetadata(RECIPE, {"image": "x"}))],
        recipe={"prompt": f"take {value}"},
        source="/pictures/p.png",
    )


def test_a_snapshot_comes_back_exactly(tmp_path):
    saved = snapshot(1)
    Autosave(tmp_path).save(saved)
    back = Autosave(tmp_path).load()
    assert np.array_equal(back.picture, saved.picture) and np.array_equal(back.mask, saved.mask)
    assert back.layers.keys() == saved.layers.keys()
    assert all(np.array_equal(back.layers[name], saved.layers[name]) for name in saved.layers)
    assert np.array_equal(back.results[0][0], saved.results[0][0]) and back.results[0][1].recipe == RECIPE
    assert back.recipe == {"prompt": "take 1"} and back.source == "/pictures/p.png" and back.saved_at > 0


def test_only_the_newest_snapshot_is_kept(tmp_path):
    autosave = Autosave(tmp_path)
    autosave.save(snapshot(1))
    autosave.save(snapshot(2))
    assert autosave.load().recipe == {"prompt": "take 2"}
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


def test_an_interrupted_save_leaves_the_previous_snapshot(tmp_path):
    autosave = Autosave(tmp_path)
    autosave.save(snapshot(1))
    half = tmp_path / ".saving-crashed"  # what a save killed half-way leaves
    half.mkdir()
    (half / "picture.png").write_bytes(b"\x89PNG partial")
    assert autosave.load().recipe == {"prompt": "take 1"}


def test_clean_exit_discards_and_damage_is_set_aside(tmp_path):
    autosave = Autosave(tmp_path)
    assert not autosave.pending() and autosave.load() is None
    folder = autosave.save(snapshot(1))
    assert autosave.pending()
    (folder / "mask.png").write_bytes(b"garbage")
    assert autosave.load() is None and not autosave.pending()
    autosave.save(snapshot(2))
    autosave.discard()
    assert not autosave.pending() and not any(p.is_dir() for p in tmp_path.iterdir())
