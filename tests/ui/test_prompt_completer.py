"""Completion in the prompt boxes: `<lora:` offers the LoRAs Studio knows, three letters of a word offer the
embeddings that start with them; choosing one writes the tag or the name in place of what was typed."""

import pytest

from studio.core.checkpoints import CheckpointInfo
from studio.ui.prompt_completer import completed, completion_at

LORAS, EMBEDDINGS = ["ink", "InkWash", "rain"], ["EasyNegative", "easy-photo", "badhands"]


@pytest.mark.parametrize("text, expected", [
    ("a cat <lora:", ("lora", "", LORAS)),
    ("a cat <LORA:in", ("lora", "in", ["ink", "InkWash"])),
    ("a cat <lora:fog", None),
    ("a cat <lora:ink:0.5> and", None),
    ("blurry, easy", ("embedding", "easy", ["EasyNegative", "easy-photo"])),
    ("blurry, ea", None),  # fewer than three letters
    ("blurry, easynegative", None),  # written out already
    ("uneasy", None),  # inside a word
])
def test_what_is_offered_for_the_text_before_the_cursor(text, expected):
    assert completion_at(text, LORAS, EMBEDDINGS) == expected


def test_a_chosen_lora_closes_its_tag_with_weight_1():
    assert completed("lora", "ink") == "ink:1>" and completed("embedding", "EasyNegative") == "EasyNegative"


def test_the_prompt_box_completes_names_from_the_listed_models(qtbot, panel, tmp_path):
    panel.set_models([CheckpointInfo(tmp_path / "InkWash.safetensors", "single_file", "lora", "sd15"),
                      CheckpointInfo(tmp_path / "EasyNegative.safetensors", "single_file", "embedding", "sd15")])
    completer = panel.completers[0]
    panel.show()
    panel.activateWindow()
    panel.prompt.setFocus()  # the box completes while the person types in it
    qtbot.keyClicks(panel.prompt, "a cat <lora:in")
    assert completer.offered() == ["InkWash"]
    completer.insert("InkWash")
    assert panel.prompt.toPlainText() == "a cat <lora:InkWash:1>"
    panel.negative_prompt.setFocus()
    qtbot.keyClicks(panel.negative_prompt, "blurry, easy")
    assert panel.completers[1].offered() == ["EasyNegative"]
    panel.completers[1].insert("EasyNegative")
    assert panel.negative_prompt.toPlainText() == "blurry, EasyNegative"
