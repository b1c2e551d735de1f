"""Prompt styles in the window: chosen under the prompts, joined to them when a job is made (so the recipe holds
the whole prompt), saved from the prompts shown, remembered between launches, and left out when a recipe or an
A1111 text brings prompts that hold their style already."""

from studio.core.recipe import parse_recipe
from studio.core.styles import Style, read_styles, styles_path, write_styles
from studio.ui import dialogs
from studio.ui.style_picker import NO_STYLE
from tests.ui.test_main_window import generate_and_wait, paint_square


def test_a_chosen_style_joins_the_prompts_of_the_job(qtbot, make_window, fake_model, picture_file):
    write_styles([Style("Cinematic", "cinematic still of {prompt}, film grain", "cartoon"), Style("Clean", "", "blurry")])
    window = make_window()
    window.models.add_checkpoint(fake_model)
    assert window.open_picture(picture_file)
    panel = window.recipe_panel
    assert [panel.style.combo.itemText(i) for i in range(panel.style.combo.count())] == [NO_STYLE, "Cinematic", "Clean"]
    panel.prompt.setPlainText("a harbour")
    panel.negative_prompt.setPlainText("ugly")
    panel.style.choose("Cinematic")
    paint_square(window)
    panel.steps.setValue(2)
    request = generate_and_wait(qtbot, window)
    assert request.recipe.prompt == "cinematic still of a harbour, film grain"
    assert request.recipe.negative_prompt == "ugly, cartoon"
    assert panel.prompt.toPlainText() == "a harbour", "the box keeps what was typed"
    window.close()
    again = make_window()
    assert again.recipe_panel.style.current_name == "Cinematic"


def test_the_prompts_shown_save_as_a_style(panel, monkeypatch):
    panel.prompt.setPlainText("watercolour of {prompt}")
    panel.negative_prompt.setPlainText("photo")
    monkeypatch.setattr(dialogs, "ask_style_name", lambda parent, proposed: "Watercolour")
    panel.style.save_button.click()
    assert read_styles() == [Style("Watercolour", "watercolour of {prompt}", "photo")]
    assert panel.style.current_name == "Watercolour" and styles_path().is_file()
    panel.prompt.setPlainText("a fox")
    panel.negative_prompt.setPlainText("")
    values = panel.recipe_values()
    assert (values["prompt"], values["negative_prompt"]) == ("watercolour of a fox", "photo")


def test_a_recipe_shown_clears_the_style(panel):
    write_styles([Style("Clean", "", "blurry")])
    panel.style.reload()
    panel.style.choose("Clean")
    panel.show_recipe(parse_recipe({"task": "sdedit", "model": "m", "image": "p.png", "prompt": "a cat",
                                    "negative_prompt": "dog, blurry"}))
    assert panel.style.current_name is None and panel.recipe_values()["negative_prompt"] == "dog, blurry"


def test_a_style_that_cannot_be_saved_says_so(make_window, monkeypatch, tmp_path):
    window = make_window()
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    window.recipe_panel.style.path = blocked / "styles.csv"
    assert not window.recipe_panel.style.save("Mine", "a", "b")
    assert "The style could not be saved" in window.message_bar.text
