"""The LoRAs section: files added (picker or models folders), weighted and removed; what it gives the recipe; hidden
where LoRAs do not apply; remembered between launches, with remembered values checked before Qt sees them."""

import json
import math

import numpy as np
import pytest

from studio.core.checkpoints import CheckpointInfo
from studio.core.recipe import parse_recipe
from studio.ui import dialogs
from studio.ui.lora_panel import LoraPanel, checked_loras
from tests.ui.conftest import choose
from tests.ui.fakes import FakeBackend
from tests.ui.test_main_window import generate_and_wait, paint_square


@pytest.fixture
def lora_files(tmp_path):
    """Files that list as LoRAs (their headers say so); the fake backend never reads them."""
    from safetensors.numpy import save_file

    paths = []
    for name in ("ink", "rain"):
        path = tmp_path / "models" / "Lora" / f"{name}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
        save_file({f"{key}.lora_down.weight": np.zeros((4, 768), np.float32),
                   f"{key}.lora_up.weight": np.zeros((320, 4), np.float32)}, str(path))
        paths.append(path)
    return paths


def test_loras_are_added_weighted_and_removed(qtbot, lora_files):
    loras = LoraPanel()
    qtbot.addWidget(loras)
    ink, rain = map(str, lora_files)
    with qtbot.waitSignal(loras.changed):
        loras.add_lora(ink)
    loras.add_lora(rain, 0.5)
    assert loras.add_lora(ink) is loras.rows[0] and len(loras.rows) == 2, "one file, one row"
    loras.rows[0].weight.setValue(-1.25)
    assert loras.values() == [{"path": ink, "weight": -1.25}, {"path": rain, "weight": 0.5}]
    loras.rows[1].weight.spin.setValue(9)  # the field stops at the recipe's range
    assert loras.values()[1]["weight"] == 4.0
    with qtbot.waitSignal(loras.changed):
        loras.rows[0].remove.click()
    assert loras.values() == [{"path": rain, "weight": 4.0}]


def test_the_add_button_offers_a_file_picker_and_the_loras_of_the_models_folders(qtbot, lora_files, monkeypatch):
    loras = LoraPanel()
    qtbot.addWidget(loras)
    asked = []
    monkeypatch.setattr(dialogs, "ask_lora", lambda parent, folder: asked.append(folder) or lora_files[0])
    loras.add_button.click()
    assert loras.values() == [{"path": str(lora_files[0].resolve()), "weight": 1.0}] and asked == [None]
    loras.set_models([("rain", str(lora_files[1]), "LoRA for SD 1.x · single file")])
    actions = loras.add_button.menu().actions()
    assert [action.text() for action in actions if action.text()] == ["rain", "Other file…"]
    actions[0].trigger()
    assert [row.path for row in loras.rows] == [str(lora_files[0].resolve()), str(lora_files[1])]
    loras.set_models([])
    assert loras.add_button.menu() is None


def test_the_section_feeds_the_recipe_for_the_tasks_that_use_loras(panel, lora_files):
    panel.loras.add_lora(str(lora_files[0]), 0.75)
    for task in ("inpaint", "sdedit", "controlnet"):
        choose(panel.task, task)
        assert not panel.loras.isHidden()
        assert panel.recipe_values()["loras"] == [{"path": str(lora_files[0]), "weight": 0.75}]
    recipe = parse_recipe({**panel.recipe_values(), "model": "m.safetensors", "image": "p.png",
                           "controlnets": [{"model": "c"}]})
    assert recipe.loras[0].weight == 0.75 and recipe.loras[0].name == "ink"
    choose(panel.task, "upscale")
    assert panel.loras.isHidden() and "loras" not in panel.recipe_values()


def test_prompt_tags_name_loras_of_the_models_folders_or_the_panel(panel, lora_files):
    from studio.core.errors import RecipeError

    panel.set_models([CheckpointInfo(lora_files[1], "single_file", "lora", "sd15")])
    panel.loras.add_lora(str(lora_files[0]), 0.75)
    choose(panel.task, "sdedit")
    panel.prompt.setPlainText("a harbour <lora:rain:0.4>, <lora:ink:1.5>")
    values = panel.recipe_values()
    assert values["prompt"] == "a harbour ,"
    assert values["loras"] == [{"path": str(lora_files[0]), "weight": 1.5}, {"path": str(lora_files[1]), "weight": 0.4}]
    assert panel.prompt.toPlainText() == "a harbour <lora:rain:0.4>, <lora:ink:1.5>", "the box keeps what was typed"
    panel.prompt.setPlainText("a harbour <lora:fog>")
    with pytest.raises(RecipeError, match="no LoRA named 'fog'.*ink, rain"):
        panel.recipe_values()
    choose(panel.task, "upscale")
    assert panel.recipe_values()["prompt"] == "a harbour" and "loras" not in panel.recipe_values()
    assert "<lora:name:0.8>" in panel.prompt.toolTip()


def test_embedding_names_in_the_prompts_call_the_listed_embeddings(panel, tmp_path):
    from studio.ui.model_panel import describe

    easy = CheckpointInfo(tmp_path / "EasyNegative.safetensors", "single_file", "embedding", "sd15")
    starter = CheckpointInfo(tmp_path / "starter-photo", "diffusers", "pipeline", "starter")
    panel.set_models([easy, starter])
    assert describe(easy) == "Embedding for SD 1.x: write EasyNegative in a prompt"
    choose(panel.task, "sdedit")
    panel.negative_prompt.setPlainText("(easynegative:1.2), blurry")
    assert panel.recipe_values()["embeddings"] == [{"path": str(easy.path)}]
    choose(panel.task, "upscale")
    assert panel.recipe_values()["embeddings"] == [{"path": str(easy.path)}], "the ×4 upscaler reads prompts too"
    choose(panel.task, "inpaint")
    panel.negative_prompt.setPlainText("blurry")
    assert panel.recipe_values()["embeddings"] == []
    panel.negative_prompt.setPlainText("easynegative")
    panel.set_base_model(str(starter.path))
    assert "embeddings" not in panel.recipe_values(), "a starter model reads no prompt"


def test_a_recipe_shown_brings_its_embeddings_even_from_outside_the_models_folders(panel, tmp_path):
    from tests.fixtures.tiny_embeddings import save_a1111_embedding

    path = save_a1111_embedding(tmp_path / "elsewhere" / "inkwash.safetensors")
    recipe = parse_recipe({"task": "sdedit", "model": "m", "image": "p.png", "prompt": "a door, inkwash",
                           "embeddings": [{"path": str(path)}]})
    panel.show_recipe(recipe)
    assert panel.recipe_values()["embeddings"] == [{"path": str(path)}]


def test_starter_models_hide_the_section(panel, lora_files, tmp_path):
    starter = str(tmp_path / "starter-photo")
    panel.set_models([CheckpointInfo(tmp_path / "starter-photo", "diffusers", "pipeline", "starter"),
                      CheckpointInfo(lora_files[0], "single_file", "lora", "sd15")])
    panel.loras.add_lora(str(lora_files[0]))
    choose(panel.task, "inpaint")
    panel.set_base_model(starter)
    assert panel.loras.isHidden() and "loras" not in panel.recipe_values()
    panel.set_base_model(str(tmp_path / "dream.safetensors"))
    assert not panel.loras.isHidden() and panel.recipe_values()["loras"]
    assert [a.text() for a in panel.loras.add_button.menu().actions() if a.text()] == ["ink", "Other file…"]


def test_a_recipe_brings_back_its_loras(panel, lora_files):
    panel.loras.add_lora(str(lora_files[1]))
    recipe = parse_recipe({"task": "sdedit", "model": "m", "image": "p.png",
                           "loras": [{"path": str(lora_files[0]), "weight": 0.3}]})
    panel.show_recipe(recipe)
    assert panel.loras.values() == [{"path": str(lora_files[0]), "weight": 0.3}]
    panel.show_recipe(recipe.replace(task="upscale", loras=[]))
    assert panel.loras.values() == [{"path": str(lora_files[0]), "weight": 0.3}], "an upscale recipe has no say"
    panel.show_recipe(recipe.replace(loras=[]))
    assert panel.loras.values() == []


def test_remembered_loras_are_checked_before_qt_sees_them(panel, lora_files, tmp_path):
    ink = str(lora_files[0])
    remembered = [
        {"path": ink, "weight": 0.5},
        {"path": ink, "weight": 0.9},  # the same file again
        {"path": str(tmp_path / "gone.safetensors")},  # missing now: shown, marked, and still in the recipe
        {"path": "old.ckpt", "weight": 1},
        {"path": 7, "weight": 1},
        {"path": "a.safetensors", "weight": math.nan},
        {"path": "b.safetensors", "weight": 1e300},
        {"path": "c.safetensors", "weight": True},
        {"path": "d.safetensors", "weight": "1"},
        "e.safetensors",
        None,
    ]
    assert checked_loras(remembered) == [(ink, 0.5), (str(tmp_path / "gone.safetensors"), 1.0)]
    panel.restore({"loras": remembered, "steps": 12})
    assert panel.loras.values() == [{"path": ink, "weight": 0.5}, {"path": str(tmp_path / "gone.safetensors"), "weight": 1.0}]
    assert panel.loras.rows[1].name.text() == "gone (missing)" and panel.steps.value() == 12
    panel.restore({"loras": {"not": "a list"}})
    assert len(panel.loras.rows) == 2, "an unusable value changes nothing"


def test_a_job_carries_the_loras_and_they_come_back_at_the_next_launch(qtbot, make_window, picture_file, fake_model,
                                                                        lora_files, settings_file):
    backend = FakeBackend()
    window = make_window(backend)
    window.models.add_checkpoint(fake_model)
    window.models.add_checkpoint(lora_files[1])  # a LoRA added as a model goes to the LoRAs section's list
    assert window.model_panel.current_path == str(fake_model.resolve())
    assert window.open_picture(picture_file)
    panel = window.recipe_panel
    panel.steps.setValue(2)
    panel.loras.add_lora(str(lora_files[0]), 0.6)
    paint_square(window)
    generate_and_wait(qtbot, window)
    assert [(lora.name, lora.weight) for lora in backend.requests[0].recipe.loras] == [("ink", 0.6)]
    panel.prompt.setPlainText("a cat <lora:nowhere:1>")
    assert window.generate() is None and "no LoRA named 'nowhere'" in window.message_bar.text
    panel.prompt.setPlainText("a cat <lora:rain:0.3>")
    generate_and_wait(qtbot, window)
    assert [(lora.name, lora.weight) for lora in backend.requests[1].recipe.loras] == [("ink", 0.6), ("rain", 0.3)]
    assert backend.requests[1].recipe.prompt == "a cat"
    window.close()
    assert json.loads(settings_file.read_text())["panel"]["loras"] == [{"path": str(lora_files[0]), "weight": 0.6}]

    again = make_window(FakeBackend())
    assert again.recipe_panel.loras.values() == [{"path": str(lora_files[0]), "weight": 0.6}]
    listed = [a.text() for a in again.recipe_panel.loras.add_button.menu().actions() if a.text()]
    assert listed == ["rain", "Other file…"]


def test_a_loras_row_says_what_it_was_trained_with(qtbot, tmp_path):
    import json

    from safetensors.numpy import save_file

    path = tmp_path / "ink.safetensors"
    save_file({"a.lora_down.weight": np.zeros((2, 2), np.float32)}, str(path),
              metadata={"ss_tag_frequency": json.dumps({"10_ink": {"ink wash": 4, "mountains": 2}})})
    loras = LoraPanel()
    qtbot.addWidget(loras)
    row = loras.add_lora(str(path))
    assert row.name.toolTip() == f"{path}\nTrained with: ink wash, mountains"
