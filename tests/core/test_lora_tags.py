"""AUTOMATIC1111's `<lora:name:weight>` tags in a prompt: taken out of the text the model reads, and turned into
the recipe's LoRAs by file name; anything Studio cannot honour exactly fails with what to write instead."""

import pytest

from studio.core.errors import RecipeError
from studio.core.lora_tags import apply_lora_tags, files_by_name, split_lora_tags, strip_lora_tags


@pytest.fixture
def files(tmp_path):
    paths = [tmp_path / "Lora" / "Ink.safetensors", tmp_path / "Lora" / "rain.safetensors"]
    for path in paths:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    return files_by_name(map(str, paths))


def test_tags_leave_the_prompt_and_keep_their_weights():
    prompt, tags = split_lora_tags("a cat <lora:ink:0.8>, ink wash <LORA:rain> on paper <lyco:old:-0.5>")
    assert prompt == "a cat , ink wash on paper"
    assert [(t.name, t.weight) for t in tags] == [("ink", 0.8), ("rain", 1.0), ("old", -0.5)]


def test_a_prompt_without_tags_is_untouched():
    assert split_lora_tags("  (a cat:1.2) < 3 <b>\n") == ("  (a cat:1.2) < 3 <b>\n", [])


def test_lines_keep_their_breaks_when_a_tag_goes():
    assert split_lora_tags("<lora:ink:1> a cat\nBREAK\nsky <lora:rain:1>")[0] == "a cat\nBREAK\nsky"


@pytest.mark.parametrize("tag, message", [
    ("<lora::0.5>", "names no LoRA"),
    ("<lora:ink:strong>", "'strong' is not a weight"),
    ("<lora:ink:0.8:0.5>", "one weight to every part of a LoRA; write <lora:ink:weight>"),
    ("<lora:ink:1:te=0.5>", "one weight to every part"),
])
def test_tags_studio_cannot_honour_say_what_to_write(tag, message):
    with pytest.raises(RecipeError, match=message):
        split_lora_tags(f"a cat {tag}")


def test_the_same_weight_twice_is_one_weight():
    assert split_lora_tags("<lora:ink:0.7:0.7>")[1][0].weight == 0.7


def test_tags_become_loras_by_file_name_in_any_case(files, tmp_path):
    values = apply_lora_tags({"prompt": "a cat <lora:ink:0.6> <lora:Rain.safetensors:2>", "loras": []}, files)
    assert values["prompt"] == "a cat"
    assert values["loras"] == [{"path": str(tmp_path / "Lora" / "Ink.safetensors"), "weight": 0.6},
                               {"path": str(tmp_path / "Lora" / "rain.safetensors"), "weight": 2.0}]


def test_a_tag_sets_the_weight_of_a_lora_listed_already(files, tmp_path):
    ink = str(tmp_path / "Lora" / "Ink.safetensors")
    other = {"path": str(tmp_path / "x.safetensors"), "weight": 1.0}
    values = apply_lora_tags({"prompt": "<lora:ink:0.25>", "loras": [{"path": ink, "weight": 1.0}, other]}, files)
    assert values["loras"] == [{"path": ink, "weight": 0.25}, other]


def test_an_unknown_name_lists_the_known_ones(files):
    with pytest.raises(RecipeError, match=r"<lora:inc:1>: no LoRA named 'inc' \(the LoRAs Studio knows are Ink, rain\)"):
        apply_lora_tags({"prompt": "<lora:inc:1>"}, files)
    with pytest.raises(RecipeError, match="Studio knows no LoRA yet"):
        apply_lora_tags({"prompt": "<lora:inc:1>"}, {})


def test_two_files_of_one_name_are_ambiguous_but_one_file_seen_twice_is_not(tmp_path):
    first, second = tmp_path / "a" / "ink.safetensors", tmp_path / "b" / "ink.safetensors"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(b"")
    once = files_by_name([str(first), str(tmp_path / "a" / ".." / "a" / "ink.safetensors")])
    assert apply_lora_tags({"prompt": "<lora:ink>"}, once)["loras"] == [{"path": str(first), "weight": 1.0}]
    with pytest.raises(RecipeError, match="2 LoRAs are named 'ink'"):
        apply_lora_tags({"prompt": "<lora:ink>"}, files_by_name([str(first), str(second)]))


def test_tasks_without_loras_only_lose_the_tags():
    assert strip_lora_tags({"prompt": "a cat <lora:ink:1>", "steps": 3}) == {"prompt": "a cat", "steps": 3}
