"""Prompt styles in AUTOMATIC1111's styles.csv: read tolerantly, written back, and joined to the prompts as A1111
joins them."""

from studio.core.styles import Style, apply_style, merge, read_styles, write_styles

A1111_CSV = '''name,prompt,negative_prompt
Cinematic,"cinematic still of {prompt}, shallow depth of field, film grain","cartoon, painting"
Clean,,"blurry, lowres"
Cinematic,"a second row of that name","ignored"
,"no name","skipped"
'''


def test_an_a1111_styles_file_reads_as_it_is(tmp_path):
    path = tmp_path / "styles.csv"
    path.write_text("\ufeff" + A1111_CSV, encoding="utf-8")  # Excel's byte-order mark too
    assert read_styles(path) == [
        Style("Cinematic", "cinematic still of {prompt}, shallow depth of field, film grain", "cartoon, painting"),
        Style("Clean", "", "blurry, lowres")]


def test_styles_join_the_prompts_as_a1111_merges_them():
    cinematic = Style("Cinematic", "cinematic still of {prompt}, film grain", "cartoon")
    values = apply_style({"prompt": "a harbour", "negative_prompt": "", "steps": 20}, cinematic)
    assert values == {"prompt": "cinematic still of a harbour, film grain", "negative_prompt": "cartoon", "steps": 20}
    assert merge("film grain", "a harbour ") == "a harbour, film grain"
    assert merge("film grain", "") == "film grain" and merge("", "a harbour") == "a harbour"
    assert apply_style({"prompt": "x"}, None) == {"prompt": "x"}


def test_written_styles_read_back_and_bad_files_read_as_none(tmp_path):
    styles = [Style("Quoted, comma", 'a "quoted" {prompt}', "line\nbreak")]
    assert read_styles(write_styles(styles, tmp_path / "styles.csv")) == styles
    assert read_styles(tmp_path / "missing.csv") == []
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert read_styles(tmp_path / "binary.csv") == []
