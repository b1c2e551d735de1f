"""Pictures made by AUTOMATIC1111 (or Civitai, Forge…) carry their settings as text: opening one, or pasting that
text with Edit ▸ Paste generation parameters, fills the panels and picks the model of that name."""

import shutil

import numpy as np
from PIL import Image, PngImagePlugin
from PySide6.QtGui import QGuiApplication

TEXT = """a lighthouse at dusk <lora:ink:0.7>
Negative prompt: blurry
Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, Size: 64x64, \
Model hash: 6ce0161689, Model: tiny-sd15, Denoising strength: 0.45, Clip skip: 2, Hires upscale: 2, \
Hires upscaler: Latent"""


def a1111_png(path, text=TEXT):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path, pnginfo=info)
    return path


def a1111_jpeg(path, text=TEXT):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-be")
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path, exif=exif)
    return path


def check_filled(panel):
    assert panel.prompt.toPlainText() == "a lighthouse at dusk <lora:ink:0.7>"
    assert panel.negative_prompt.toPlainText() == "blurry"
    assert (panel.steps.value(), panel.guidance.value(), panel.seed.seed, panel.seed.locked) == (28, 6.5, 1234567890, True)
    assert panel.sampler.currentData() == "dpmpp_2m_karras" and panel.clip_skip.value() == 2
    assert panel.hires.isChecked() and (panel.hires.factor.value(), panel.hires.strength.value()) == (2.0, 0.45)


def test_opening_an_a1111_picture_fills_the_panels_and_picks_its_model(make_window, fake_model, tmp_path):
    other = shutil.copy(fake_model, tmp_path / "models" / "other.safetensors")
    window = make_window()
    window.models.add_checkpoint(other)
    window.models.add_checkpoint(fake_model)
    window.models.choose(str(other))
    for picture in (a1111_png(tmp_path / "civitai.png"), a1111_jpeg(tmp_path / "forge.jpg")):
        window.recipe_panel.prompt.setPlainText("mine")
        window.models.choose(str(other))
        assert window.open_picture(picture)
        check_filled(window.recipe_panel)
        assert window.models.current == str(fake_model)
        message = window.message_bar.text
        assert f"Settings read from {picture.name}'s AUTOMATIC1111 parameters (prompt, steps 28, CFG 6.5, seed 1234567890)" in message
        assert "Hires upscaler 'Latent' has no equal in Studio" in message


def test_paste_generation_parameters_reads_the_clipboard(make_window, fake_model, picture_file):
    window = make_window()
    window.models.add_checkpoint(fake_model)
    assert window.open_picture(picture_file)
    assert "Ctrl+Alt+V" in window.commands.paste_parameters.shortcut().toString()
    QGuiApplication.clipboard().setText(TEXT.replace("tiny-sd15", "elsewhere"))
    window.commands.paste_parameters.trigger()
    check_filled(window.recipe_panel)
    assert "Its model elsewhere is not among your models" in window.message_bar.text
    panel = window.recipe_panel
    panel.steps.setValue(5)
    QGuiApplication.clipboard().setText("just words, no settings")
    window.commands.paste_parameters.trigger()
    assert panel.steps.value() == 5 and "clipboard holds no generation parameters" in window.message_bar.text


def test_a_plain_picture_changes_no_setting(make_window, fake_model, picture_file):
    window = make_window()
    window.models.add_checkpoint(fake_model)
    window.recipe_panel.prompt.setPlainText("mine")
    assert window.open_picture(picture_file)
    assert window.recipe_panel.prompt.toPlainText() == "mine" and "AUTOMATIC1111" not in window.message_bar.text
