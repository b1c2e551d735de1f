"""A corpus of malformed and unusual pictures, generated here: each loads correctly or fails with a clear
ImageError; Pillow's safety limits stay on."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.core.errors import ImageError, RecipeError
from studio.core.images import load_image, load_mask
from studio.core.recipe import FIELD_NAMES, parse_recipe


def png_claiming_size(path, width, height):
    """A valid 1×1 PNG whose header claims another size: a decompression bomb to Pillow."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def test_a_decompression_bomb_is_refused_with_pillows_limit_still_on(tmp_path):
    default_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="too large to open safely"):
        load_image(png_claiming_size(tmp_path / "bomb.png", 60000, 60000))
    assert Image.MAX_IMAGE_PIXELS == default_limit and default_limit is not None


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_are_clear_errors(tmp_path, kind, cut):
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    whole = tmp_path / f"whole.{kind.lower()}"
    Image.fromarray(pixels).save(whole, format=kind)
    data = whole.read_bytes()
    broken = tmp_path / f"broken.{kind.lower()}"
    broken.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ImageError, match="damaged or truncated|not a picture"):
        load_image(broken)


def test_garbage_and_empty_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(1).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    for name in ("empty.png", "noise.jpg"):
        with pytest.raises(ImageError):
            load_image(tmp_path / name)


@pytest.mark.parametrize(
    "mode, value",
    [("1", 1), ("L", 128), ("LA", (128, 200)), ("P", 5), ("RGB", (1, 2, 3)), ("RGBA", (1, 2, 3, 128)),
     ("CMYK", (0, 0, 0, 255)), ("I;16", 40000), ("I", 70000), ("F", 0.5), ("YCbCr", (100, 128, 128))],
)
def test_every_mode_becomes_rgb(tmp_path, mode, value):
    image = Image.new(mode, (5, 3), value)
    path = tmp_path / ("p.tiff" if mode in ("I", "F", "CMYK", "YCbCr") else "p.png")
    image.save(path)
    pixels = load_image(path)
    assert pixels.shape == (3, 5, 3) and pixels.dtype == np.uint8


def test_palette_with_transparency_and_one_pixel_pictures(tmp_path):
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "t.png", transparency=0)
    assert load_image(tmp_path / "t.png").shape == (4, 4, 3)
    Image.new("RGB", (1, 1), (9, 8, 7)).save(tmp_path / "one.png")
    assert load_image(tmp_path / "one.png").tolist() == [[[9, 8, 7]]]


@pytest.mark.parametrize("orientation, shape", [(1, (2, 6)), (3, (2, 6)), (6, (6, 2)), (8, (6, 2)), (5, (6, 2))])
def test_exif_orientations(tmp_path, orientation, shape):
    image = Image.new("RGB", (6, 2))
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(tmp_path / "o.jpg", exif=exif)
    assert load_image(tmp_path / "o.jpg").shape[:2] == shape


@pytest.mark.parametrize("value, expected", [(0, 0), (255, 255), (77, 77)])
def test_empty_full_and_grey_masks_load_as_they_are(tmp_path, value, expected):
    Image.new("L", (8, 8), value).save(tmp_path / "m.png")
    assert set(np.unique(load_mask(tmp_path / "m.png", (8, 8)).pixels)) == {expected}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELD_NAMES + ("bogus",)), json_values, max_size=8))
def test_recipe_parsing_never_fails_with_anything_but_a_recipe_error(data):
    try:
        recipe = parse_recipe(data)
    except RecipeError as error:
        assert error.field and error.reason
    else:
        assert parse_recipe(recipe.to_dict()) == recipe
