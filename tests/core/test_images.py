import numpy as np
import pytest
from PIL import Image

from studio.core.errors import ImageError
from studio.core.images import load_image, load_mask, pixel_hash


def test_modes_become_rgb(tmp_path):
    Image.new("CMYK", (5, 4), (0, 255, 0, 0)).save(tmp_path / "c.jpg")
    Image.new("LA", (5, 4), (100, 50)).save(tmp_path / "la.png")
    Image.new("P", (5, 4), 3).save(tmp_path / "p.png")
    for name in ("c.jpg", "la.png", "p.png"):
        assert load_image(tmp_path / name).shape == (4, 5, 3)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    Image.fromarray(np.full((3, 3), 32768, np.uint16)).save(tmp_path / "g16.png")
    assert load_image(tmp_path / "g16.png")[0, 0, 0] == 128


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (6, 2))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    image.save(tmp_path / "o.jpg", exif=exif)
    assert load_image(tmp_path / "o.jpg").shape == (6, 2, 3)


def test_bad_files_give_clear_messages(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "none.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageError, match="not a picture"):
        load_image(tmp_path / "text.png")
    Image.new("RGB", (64, 64), "red").save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="damaged or truncated|not a picture"):
        load_image(tmp_path / "cut.png")


def test_mask_of_another_size_is_resized_with_a_notice(tmp_path):
    Image.new("L", (10, 10), 255).save(tmp_path / "m.png")
    loaded = load_mask(tmp_path / "m.png", (20, 16))
    assert loaded.pixels.shape == (16, 20) and loaded.pixels.min() == 255
    assert "resized" in loaded.notices[0]
    assert load_mask(tmp_path / "m.png", (10, 10)).notices == []


def test_mask_from_a_painted_layer_uses_its_alpha(tmp_path):
    layer = np.zeros((4, 4, 4), np.uint8)
    layer[1:3, 1:3] = (255, 0, 0, 255)
    Image.fromarray(layer, "RGBA").save(tmp_path / "layer.png")
    mask = load_mask(tmp_path / "layer.png", (4, 4)).pixels
    assert mask[1, 1] == 255 and mask[0, 0] == 0


def test_pixel_hash_ignores_the_file_format(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "a.bmp")
    assert pixel_hash(load_image(tmp_path / "a.png")) == pixel_hash(load_image(tmp_path / "a.bmp"))
