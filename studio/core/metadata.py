"""Result metadata: an AUTOMATIC1111-style `parameters` text, and a `studio` JSON record with the full recipe
and the hashes of its inputs, from which `studio run` reproduces the picture.

PNG keeps them in text chunks; JPEG and WebP in EXIF (UserComment as AUTOMATIC1111 writes it, and the JSON
in ImageDescription).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from studio.core.atomic import atomic_writer
from studio.core.errors import ImageError, RecipeError
from studio.core.recipe import Recipe, parse_recipe

STUDIO_CHUNK = "studio"
PARAMETERS_CHUNK = "parameters"
METADATA_FORMAT = 1
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
EXIF_USER_COMMENT = 0x9286
EXIF_IMAGE_DESCRIPTION = 0x010E
EXIF_IFD = 0x8769
UNICODE_PREFIX = b"UNICODE\x00"


@dataclass
class ResultMetadata:
    """What Studio writes beside a result's pixels."""

    recipe: Recipe
    hashes: dict[str, str] = field(default_factory=dict)  # image, mask, model, controlnetN, loraN → sha256 hex
    run: dict[str, Any] = field(default_factory=dict)  # studio version, device, dtype, sampler label, plugins…

    def to_json(self) -> str:
        return json.dumps(
            {"format": METADATA_FORMAT, "recipe": self.recipe.to_dict(), "hashes": self.hashes, "run": self.run},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> "ResultMetadata":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise RecipeError("(metadata)", f"the picture's studio metadata is not valid JSON: {error.msg}") from None
        if not isinstance(data, dict) or "recipe" not in data:
            raise RecipeError("(metadata)", "the picture's studio metadata holds no recipe")
        return cls(parse_recipe(data["recipe"]), dict(data.get("hashes", {})), dict(data.get("run", {})))


HIRES_UPSCALER = "Lanczos"  # how the hires fix enlarges (engine/hires_fix.py), in A1111's words


def a1111_parameters(meta: ResultMetadata, size: tuple[int, int]) -> str:
    """The `parameters` text AUTOMATIC1111, Civitai and most viewers read."""
    recipe = meta.recipe
    fields = {
        "Steps": recipe.steps,
        "Sampler": meta.run.get("sampler_label", recipe.sampler),
        "CFG scale": f"{recipe.guidance:g}",
        "Seed": recipe.seed,
        "Size": f"{size[0]}x{size[1]}",
        "Model hash": meta.hashes.get("model", "")[:10],
        "Model": Path(recipe.model).stem,
        "Denoising strength": f"{recipe.strength:g}",
    }
    if recipe.clip_skip > 1:
        fields["Clip skip"] = recipe.clip_skip  # A1111 writes it only when it is not 1
    if recipe.tiling:
        fields["Tiling"] = "True"
    if recipe.hires is not None:  # as A1111 writes a hires fix: its strength is the "Denoising strength"
        fields["Denoising strength"] = f"{recipe.hires.strength:g}"
        fields["Hires upscale"] = f"{recipe.hires.factor:g}"
        fields["Hires steps"] = recipe.hires.steps or ""
        fields["Hires upscaler"] = HIRES_UPSCALER
    if recipe.task == "inpaint":
        fields["Mask blur"] = f"{recipe.mask_feather:g}"
        fields["Inpaint area"] = "Only masked" if recipe.inpaint_area == "masked" else "Whole picture"
        fields["Masked area padding"] = recipe.mask_padding
        fields["Masked content"] = recipe.masked_content
    fields["Lora hashes"] = _lora_hashes(meta)
    fields["TI hashes"] = _embedding_hashes(meta)
    fields["Version"] = f"Studio {meta.run.get('studio_version', '')}".strip()
    line = ", ".join(f"{key}: {value}" for key, value in fields.items() if value != "")
    prompt = " ".join([recipe.prompt, *(f"<lora:{_lora_alias(lora.name)}:{lora.weight:g}>" for lora in recipe.loras)])
    return f"{prompt.strip()}\nNegative prompt: {recipe.negative_prompt}\n{line}"


def _lora_alias(name: str) -> str:
    """A LoRA's name as AUTOMATIC1111 writes it in the infotext (no ':' or ',', which would end the field)."""
    return name.replace(":", "").replace(",", "")


def _lora_hashes(meta: ResultMetadata) -> str:
    """AUTOMATIC1111's "Lora hashes": name and short hash (12 hex digits of the sha256) of each LoRA, quoted as
    A1111 quotes a value holding ':' or ','."""
    pairs = [f"{_lora_alias(lora.name)}: {meta.hashes[f'lora{index}'][:12]}"
             for index, lora in enumerate(meta.recipe.loras) if f"lora{index}" in meta.hashes]
    return json.dumps(", ".join(pairs), ensure_ascii=False) if pairs else ""


def _embedding_hashes(meta: ResultMetadata) -> str:
    """AUTOMATIC1111's "TI hashes" (textual inversion): name and short hash of each embedding the prompts name."""
    pairs = [f"{_lora_alias(embedding.name)}: {meta.hashes[f'embedding{index}'][:12]}"
             for index, embedding in enumerate(meta.recipe.embeddings) if f"embedding{index}" in meta.hashes]
    return json.dumps(", ".join(pairs), ensure_ascii=False) if pairs else ""


def _encoded(image: Image.Image, meta: ResultMetadata, kind: str, quality: int) -> dict:
    """Pillow save options that carry the metadata in the format's own way."""
    parameters = a1111_parameters(meta, image.size)
    if kind == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text(PARAMETERS_CHUNK, parameters)
        info.add_itxt(STUDIO_CHUNK, meta.to_json())
        return {"pnginfo": info}
    exif = Image.Exif()
    exif[EXIF_IMAGE_DESCRIPTION] = meta.to_json()  # ASCII: to_json escapes everything else
    exif.get_ifd(EXIF_IFD)[EXIF_USER_COMMENT] = UNICODE_PREFIX + parameters.encode("utf-16-be")
    return {"exif": exif, "quality": quality}


def write_picture(path: str | Path, pixels: np.ndarray, meta: ResultMetadata, kind: str = "png", quality: int = 95) -> Path:
    """Write atomically (temporary name, then rename) so an interrupted export never leaves a truncated file."""
    if kind not in FORMATS:
        raise ValueError(f"unknown picture format {kind!r}; use one of {', '.join(FORMATS)}")
    image = Image.fromarray(pixels)
    options = _encoded(image, meta, kind, quality)
    with atomic_writer(path) as stream:
        image.save(stream, format=FORMATS[kind], **options)
    return Path(path)


def write_png(path: str | Path, pixels: np.ndarray, meta: ResultMetadata) -> Path:
    return write_picture(path, pixels, meta, "png")


def _exif_texts(image: Image.Image) -> tuple[str | None, str | None]:
    exif = image.getexif()
    studio = exif.get(EXIF_IMAGE_DESCRIPTION)
    comment = exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    if isinstance(comment, bytes) and comment.startswith(UNICODE_PREFIX):
        comment = comment[len(UNICODE_PREFIX):].decode("utf-16-be", errors="replace")
    return studio, comment if isinstance(comment, str) else None


def read_metadata(path: str | Path) -> ResultMetadata | None:
    """The studio metadata of a PNG, or None if it has none (a picture Studio did not make)."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            text = image.info.get(STUDIO_CHUNK) if image.format == "PNG" else _exif_texts(image)[0]
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"cannot read {path.name}: {error}") from None
    if text is not None and not text.lstrip().startswith("{"):
        return None  # an ImageDescription some other program wrote
    return None if text is None else ResultMetadata.from_json(text)


def read_parameters(path: str | Path) -> str | None:
    with Image.open(path) as image:
        return image.info.get(PARAMETERS_CHUNK) if image.format == "PNG" else _exif_texts(image)[1]
