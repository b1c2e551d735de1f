"""core/prompt_syntax.py: AUTOMATIC1111's emphasis rules, checked on the examples A1111 documents in
modules/prompt_parser.py (weights compared exactly: the products are computed in A1111's order)."""

import pytest

from studio.core.prompt_syntax import BREAK, is_plain, parse_prompt


@pytest.mark.parametrize("text, pieces", [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", [
        ("a ", 1.0), ("house", 1.5730000000000004), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
        (", sun, ", 1.1), ("sky", 1.4641000000000006), (".", 1.1)]),
])
def test_a1111_documented_examples(text, pieces):
    assert parse_prompt(text) == pieces


def test_brackets_weights_and_nesting():
    assert parse_prompt("a (red:1.3) door") == [("a ", 1.0), ("red", 1.3), (" door", 1.0)]
    assert parse_prompt("[blurry]") == [("blurry", 1 / 1.1)]
    assert parse_prompt("((detailed))") == [("detailed", 1.1 * 1.1)]
    assert parse_prompt("((a:0.5) b)") == [("a", 0.5 * 1.1), (" b", 1.1)]
    assert parse_prompt("[unclosed") == [("unclosed", 1 / 1.1)]


def test_stray_closers_and_colons_stay_text():
    assert parse_prompt("a) b] c:1.2)") == [("a) b] c:1.2)", 1.0)]
    assert parse_prompt("ratio 16:9") == [("ratio 16:9", 1.0)]
    assert parse_prompt("\\\\ back") == [("\\ back", 1.0)]


def test_break_starts_a_chunk():
    assert parse_prompt("a red door BREAK a blue sky") == [("a red door", 1.0), BREAK, ("a blue sky", 1.0)]
    assert parse_prompt("(red BREAK blue)") == [("red", 1.1), BREAK, ("blue", 1.1)]
    assert parse_prompt("BREAKfast break") == [("BREAKfast break", 1.0)]  # only the upper-case word


def test_plain_prompts_are_one_piece_of_weight_one():
    for text in ("a red door", "", "ratio 16:9, a) list"):
        assert parse_prompt(text) == [(text, 1.0)]
        assert is_plain(text)
    for text in ("a (red) door", "[x]", "a \\(b\\)", "a BREAK b", "(x:1.0)"):
        assert not is_plain(text)
