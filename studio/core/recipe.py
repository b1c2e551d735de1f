"""Recipes: typed, versioned job descriptions that read from and write to JSON.

A recipe holds everything that decides the pixels of a result. Field names are fixed so that people can
script them; validation names the bad field and the reason.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from studio.core.checkpoints import PICKLE_SUFFIXES
from studio.core.errors import RecipeError

RECIPE_VERSION = 1
TASKS = ("inpaint", "sdedit", "controlnet", "upscale")
INPAINT_AREAS = ("whole", "masked")
MASKED_CONTENTS = ("original", "fill")  # what the model starts from under the mask (engine/fill.py)
SAMPLER_ID = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_SEED = 2**32 - 1
MAX_SIDE = 8192
SWEEPABLE = ("seed", "guidance", "steps", "strength", "sampler", "controlnet_scale", "lora_weight", "clip_skip",
             "prompt_sr", "hires_strength")
MAX_CLIP_SKIP = 12  # AUTOMATIC1111's "Clip skip" slider: 1 (off) to 12, the layers of SD 1.x's text encoder
DEFAULT_UPSCALE_FACTOR = 2.0  # upscaling with a Stable Diffusion checkpoint, when the recipe gives no factor
MAX_LORA_WEIGHT = 4.0  # AUTOMATIC1111's sliders stop at ±2; a little beyond stays usable, further is noise
HIRES_TASKS = ("inpaint", "sdedit", "controlnet")  # the generating tasks; upscale has its own factor
MAX_HIRES_FACTOR = 4.0


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet: its model, the control picture (a ready map, or a source for the preprocessor;
    the recipe's image when omitted), and how strongly and over which part of the schedule it steers."""

    model: str
    image: str | None = None
    preprocessor: str = "none"
    scale: float = 1.0
    start: float = 0.0
    end: float = 1.0
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LoraRef:
    """One LoRA: its .safetensors file and how strongly it applies (AUTOMATIC1111's `<lora:name:weight>`)."""

    path: str
    weight: float = 1.0

    @property
    def name(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class HiresFix:
    """A second pass after generating (AUTOMATIC1111's hires fix): the whole result enlarged `factor` times with
    Lanczos, then redrawn at `strength` in tiles of the model's native size; `steps` 0 takes the recipe's."""

    factor: float = 2.0
    strength: float = 0.5
    steps: int = 0


@dataclass(frozen=True)
class EmbeddingRef:
    """One textual-inversion embedding (.safetensors): its file name without the suffix is the word that calls
    it in the prompt or negative prompt, as in AUTOMATIC1111."""

    path: str

    @property
    def name(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class Recipe:
    task: str
    model: str
    image: str | None = None
    mask: str | None = None
    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 30
    guidance: float = 7.5
    strength: float = 1.0
    seed: int = 0
    sampler: str = "dpmpp_2m"
    clip_skip: int = 1  # AUTOMATIC1111's numbering: text embeddings from the N-th last CLIP layer; 1 is off
    sampler_params: dict = field(default_factory=dict)  # a plugin sampler's own parameters, by name
    guidance_type: str = "cfg"
    guidance_params: dict = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    variations: int = 1
    batch_size: int = 0  # pictures per forward pass; 0 lets the engine choose from free memory
    batch_seeds: tuple[int, ...] | None = None  # set on a picture made inside a batch: the batch to recompute
    mask_grow: int = 0
    mask_feather: float = 0.0
    inpaint_area: str = "whole"
    mask_padding: int = 32
    masked_content: str = "original"
    noise_level: int = 20  # upscale: noise added to the low-resolution picture
    upscale_factor: float | None = None  # upscale with an SD checkpoint: how much larger (None: 2); ×4 models: 4
    tile_size: int = 128  # upscale: latent tile side (pictures smaller than a tile are not tiled)
    tile_overlap: int = 32
    controlnets: tuple[ControlUnit, ...] = ()
    loras: tuple[LoraRef, ...] = ()
    embeddings: tuple[EmbeddingRef, ...] = ()
    hires: HiresFix | None = None
    tiling: bool = False  # seamless: the picture's edges continue each other (A1111's "Tiling")
    sweep: dict = field(default_factory=dict)  # axis → list of values; see core/sweeps.py
    version: int = RECIPE_VERSION
    extras: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["controlnets"] = [dataclasses.asdict(unit) for unit in self.controlnets]
        data["loras"] = [dataclasses.asdict(lora) for lora in self.loras]
        data["embeddings"] = [dataclasses.asdict(embedding) for embedding in self.embeddings]
        data["batch_seeds"] = list(self.batch_seeds) if self.batch_seeds else None
        if self.clip_skip == 1:
            del data["clip_skip"]  # recipes without clip skip read and compare as before it existed
        for name in ("upscale_factor", "hires"):
            if data[name] is None:
                del data[name]  # recipes without them read and compare as before they existed
        if not self.tiling:
            del data["tiling"]
        for name in ("extras", "sampler_params", "guidance_params", "controlnets", "loras", "embeddings", "sweep",
                     "batch_seeds"):
            if not data[name]:
                del data[name]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def replace(self, **changes: Any) -> "Recipe":
        return parse_recipe({**self.to_dict(), **changes})

    def seeds(self) -> list[int]:
        """One seed per variation, consecutive: item i of a set of variations is the job with seed + i."""
        return [(self.seed + i) % (MAX_SEED + 1) for i in range(self.variations)]

    def seed_groups(self, batch_size: int) -> list[list[int]]:
        """The seeds computed together. Batched pictures differ from single ones in the last bits (kernels
        depend on the batch size), so a picture made in a batch records its batch and is recomputed with it."""
        if self.batch_seeds:
            return [list(self.batch_seeds)]
        seeds = self.seeds()
        return [seeds[i:i + batch_size] for i in range(0, len(seeds), batch_size)]

    def with_paths_resolved(self, base_dir: Path) -> "Recipe":
        """Relative paths in a recipe are relative to the file that holds it."""
        changes = {name: _resolve(getattr(self, name), base_dir) for name in ("model", "image", "mask")}
        units = tuple(
            dataclasses.replace(unit, model=_resolve(unit.model, base_dir), image=_resolve(unit.image, base_dir))
            for unit in self.controlnets
        )
        loras = tuple(dataclasses.replace(lora, path=_resolve(lora.path, base_dir)) for lora in self.loras)
        embeddings = tuple(EmbeddingRef(_resolve(embedding.path, base_dir)) for embedding in self.embeddings)
        return dataclasses.replace(self, controlnets=units, loras=loras, embeddings=embeddings, **changes)


def _resolve(value: str | None, base_dir: Path) -> str | None:
    if not value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base_dir / path).resolve())


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise RecipeError(name, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise RecipeError(name, f"must be between {low} and {high}, got {value}")
    return value


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecipeError(name, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise RecipeError(name, f"must be between {low} and {high}, got {value}")
    return float(value)


def _text(name: str, value: Any, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise RecipeError(name, f"must be text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise RecipeError(name, "must not be empty")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise RecipeError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RecipeError(name, f"must be true or false, got {value!r}")
    return value


def _optional(check, name: str, value: Any, *args):
    return None if value is None else check(name, value, *args)


def _side(name: str, value: Any) -> int | None:
    side = _optional(_integer, name, value, 8, MAX_SIDE)
    if side is not None and side % 8:
        raise RecipeError(name, f"must be a multiple of 8, got {side}")
    return side


def _identifier(name: str, value: Any) -> str:
    """Sampler and guidance ids: lower_snake_case, as the other tools name them."""
    if not isinstance(value, str) or not SAMPLER_ID.match(value):
        raise RecipeError(name, f"must be an id in lower_snake_case such as 'euler_a', got {value!r}")
    return value


def _version(name: str, value: Any) -> int:
    version = _integer(name, value, 1, 10**6)
    if version > RECIPE_VERSION:
        raise RecipeError(name, f"recipe version {version} was written by a newer Studio (this one reads up to {RECIPE_VERSION})")
    return version


def _mapping(name: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise RecipeError(name, f"must be an object, got {type(value).__name__}")
    return dict(value)


def _params(name: str, value: Any) -> dict:
    """Plugin parameters: names to numbers, booleans or text (the plugin's manifest checks ranges)."""
    params = _mapping(name, value)
    for key, item in params.items():
        if not isinstance(item, (int, float, bool, str)) or (isinstance(item, float) and not math.isfinite(item)):
            raise RecipeError(f"{name}.{key}", f"must be a number, boolean or text, got {item!r}")
    return params


def _seed_list(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise RecipeError(name, "must be a non-empty list of seeds")
    return tuple(_integer(f"{name}[{i}]", seed, 0, MAX_SEED) for i, seed in enumerate(value))


def _sweep(name: str, value: Any) -> dict[str, list]:
    """Axis name → non-empty list of values; each value is checked when the grid is expanded."""
    if not isinstance(value, dict):
        raise RecipeError(name, f"must be an object of lists, got {type(value).__name__}")
    for axis, values in value.items():
        if axis not in SWEEPABLE:
            raise RecipeError(f"{name}.{axis}", f"cannot be swept; sweepable: {', '.join(SWEEPABLE)}")
        if not isinstance(values, list) or not values:
            raise RecipeError(f"{name}.{axis}", "must be a non-empty list of values")
        if axis == "prompt_sr" and not all(isinstance(v, str) and v for v in values):
            raise RecipeError(f"{name}.{axis}", "must be a list of words or phrases: the first is searched for in "
                              "the prompts, each one replaces it in turn")
    return {axis: list(values) for axis, values in value.items()}


def _known_fields(name: str, data: dict, known: set[str]) -> dict:
    for key in data:
        if key not in known:
            raise RecipeError(f"{name}.{key}", f"unknown field; known fields are {', '.join(sorted(known))}")
    return data


def _control_unit(name: str, value: Any) -> ControlUnit:
    data = _known_fields(name, _mapping(name, value), {f.name for f in fields(ControlUnit)})
    if "model" not in data:
        raise RecipeError(f"{name}.model", "is required")
    unit = ControlUnit(
        model=_text(f"{name}.model", data["model"], allow_empty=False),
        image=_optional(_text, f"{name}.image", data.get("image")),
        preprocessor=_identifier(f"{name}.preprocessor", data.get("preprocessor", "none")),
        scale=_number(f"{name}.scale", data.get("scale", 1.0), 0.0, 5.0),
        start=_number(f"{name}.start", data.get("start", 0.0), 0.0, 1.0),
        end=_number(f"{name}.end", data.get("end", 1.0), 0.0, 1.0),
        params=_params(f"{name}.params", data.get("params", {})),
    )
    if unit.start >= unit.end:
        raise RecipeError(f"{name}.end", f"must be after start ({unit.start:g}), got {unit.end:g}")
    return unit


def _control_units(name: str, value: Any) -> tuple[ControlUnit, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise RecipeError(name, f"must be a list of ControlNet units, got {type(value).__name__}")
    return tuple(_control_unit(f"{name}[{index}]", unit) for index, unit in enumerate(value))


def _safetensors_path(name: str, data: dict, known: set, what: str) -> str:
    """The `path` of a LoRA or embedding entry: a .safetensors file (pickles can run code when read)."""
    _known_fields(name, data, known)
    if "path" not in data:
        raise RecipeError(f"{name}.path", "is required")
    path = _text(f"{name}.path", data["path"], allow_empty=False)
    suffix = Path(path).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise RecipeError(f"{name}.path", f"{Path(path).name} is a pickle, and unpickling can run code: Studio refuses "
                          f"pickled {what}; use the .safetensors version")
    if suffix != ".safetensors":
        raise RecipeError(f"{name}.path", f"must be a .safetensors file, got {Path(path).name}")
    return path


def _embeddings(name: str, value: Any) -> tuple[EmbeddingRef, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise RecipeError(name, f"must be a list of embeddings such as [{{\"path\": \"easynegative.safetensors\"}}], "
                          f"got {type(value).__name__}")
    embeddings = []
    for index, item in enumerate(value):
        path = _safetensors_path(f"{name}[{index}]", _mapping(f"{name}[{index}]", item), {"path"}, "embeddings")
        embedding = EmbeddingRef(path)
        clash = next((other for other in embeddings if other.name.lower() == embedding.name.lower()), None)
        if clash is not None:
            raise RecipeError(f"{name}[{index}].path", f"{path} and {clash.path} are both called "
                              f"'{embedding.name}' in a prompt; list one")
        embeddings.append(embedding)
    return tuple(embeddings)


def _hires(name: str, value: Any) -> HiresFix:
    data = _known_fields(name, _mapping(name, value), {f.name for f in fields(HiresFix)})
    return HiresFix(
        factor=_number(f"{name}.factor", data.get("factor", HiresFix.factor), 1.0, MAX_HIRES_FACTOR),
        strength=_number(f"{name}.strength", data.get("strength", HiresFix.strength), 0.0, 1.0),
        steps=_integer(f"{name}.steps", data.get("steps", HiresFix.steps), 0, 1000),
    )


def _lora(name: str, value: Any) -> LoraRef:
    data = _mapping(name, value)
    path = _safetensors_path(name, data, {f.name for f in fields(LoraRef)}, "LoRAs")
    weight = _number(f"{name}.weight", data.get("weight", 1.0), -MAX_LORA_WEIGHT, MAX_LORA_WEIGHT)
    return LoraRef(path, weight)


def _loras(name: str, value: Any) -> tuple[LoraRef, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise RecipeError(name, f"must be a list of LoRAs such as [{{\"path\": \"ink.safetensors\", \"weight\": 0.8}}], "
                          f"got {type(value).__name__}")
    loras = tuple(_lora(f"{name}[{index}]", item) for index, item in enumerate(value))
    paths = [lora.path for lora in loras]
    for index, path in enumerate(paths):
        if path in paths[:index]:
            raise RecipeError(f"{name}[{index}].path", f"{path} is listed twice; list it once, with one weight")
    return loras


_CHECKS = {
    "task": lambda n, v: _choice(n, v, TASKS),
    "model": lambda n, v: _text(n, v, allow_empty=False),
    "image": lambda n, v: _optional(_text, n, v),
    "mask": lambda n, v: _optional(_text, n, v),
    "prompt": _text,
    "negative_prompt": _text,
    "steps": lambda n, v: _integer(n, v, 1, 1000),
    "guidance": lambda n, v: _number(n, v, 0.0, 100.0),
    "strength": lambda n, v: _number(n, v, 0.0, 1.0),
    "seed": lambda n, v: _integer(n, v, 0, MAX_SEED),
    "sampler": _identifier,
    "clip_skip": lambda n, v: _integer(n, v, 1, MAX_CLIP_SKIP),
    "sampler_params": _params,
    "guidance_type": _identifier,
    "guidance_params": _params,
    "width": _side,
    "height": _side,
    "variations": lambda n, v: _integer(n, v, 1, 10_000),
    "batch_size": lambda n, v: _integer(n, v, 0, 64),
    "batch_seeds": lambda n, v: _optional(_seed_list, n, v),
    "mask_grow": lambda n, v: _integer(n, v, -256, 256),
    "mask_feather": lambda n, v: _number(n, v, 0.0, 256.0),
    "inpaint_area": lambda n, v: _choice(n, v, INPAINT_AREAS),
    "mask_padding": lambda n, v: _integer(n, v, 0, 4096),
    "masked_content": lambda n, v: _choice(n, v, MASKED_CONTENTS),
    "noise_level": lambda n, v: _integer(n, v, 0, 350),
    "upscale_factor": lambda n, v: _optional(_number, n, v, 1.0, 8.0),
    "tile_size": lambda n, v: _integer(n, v, 16, 4096),
    "tile_overlap": lambda n, v: _integer(n, v, 0, 2048),
    "version": _version,
    "controlnets": _control_units,
    "loras": _loras,
    "embeddings": _embeddings,
    "hires": lambda n, v: _optional(_hires, n, v),
    "tiling": _boolean,
    "sweep": _sweep,
    "extras": _mapping,
}
FIELD_NAMES = tuple(f.name for f in fields(Recipe))
REQUIRED = tuple(f.name for f in fields(Recipe) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)


def parse_recipe(data: Any) -> Recipe:
    """Validate a mapping (from JSON) and return a Recipe, or raise RecipeError naming the bad field."""
    if not isinstance(data, Mapping):
        raise RecipeError("(recipe)", f"must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(FIELD_NAMES))
    if unknown:
        raise RecipeError(unknown[0], f"unknown field; known fields are {', '.join(FIELD_NAMES)}")
    for name in REQUIRED:
        if name not in data:
            raise RecipeError(name, "is required")
    values = {name: _CHECKS[name](name, data[name]) for name in FIELD_NAMES if name in data}
    recipe = Recipe(**values)
    _check_task_inputs(recipe)
    return recipe


def _check_task_inputs(recipe: Recipe) -> None:
    if recipe.task in ("inpaint", "sdedit", "upscale") and recipe.image is None:
        raise RecipeError("image", f"is required for task '{recipe.task}'")
    if recipe.task == "controlnet" and not recipe.controlnets:
        raise RecipeError("controlnets", "task 'controlnet' needs at least one ControlNet unit")
    if recipe.task == "controlnet" and recipe.image is None and any(u.image is None for u in recipe.controlnets):
        raise RecipeError("image", "a ControlNet unit without its own image needs the recipe's image")
    if recipe.task == "inpaint" and recipe.mask is None:
        raise RecipeError("mask", "is required for task 'inpaint'")
    if recipe.batch_seeds is not None and (recipe.seed not in recipe.batch_seeds or recipe.variations != 1):
        raise RecipeError("batch_seeds", "must hold the recipe's seed, with variations 1")
    if recipe.hires is not None and recipe.task not in HIRES_TASKS:
        raise RecipeError("hires", f"is a second pass after generating ({', '.join(HIRES_TASKS)}); task "
                          f"'{recipe.task}' enlarges by its upscale_factor")
    if recipe.tiling:
        _check_tiling(recipe)
    if recipe.tile_overlap >= recipe.tile_size:
        raise RecipeError("tile_overlap", f"must be smaller than tile_size ({recipe.tile_size}), got {recipe.tile_overlap}")
    if (recipe.width is None) != (recipe.height is None):
        missing = "height" if recipe.height is None else "width"
        raise RecipeError(missing, "width and height must be given together")


def _check_tiling(recipe: Recipe) -> None:
    """A seamless picture is made whole by one pass of the model: not in parts, not enlarged afterwards."""
    if recipe.task not in HIRES_TASKS:
        raise RecipeError("tiling", f"makes a seamless picture in one pass ({', '.join(HIRES_TASKS)}); task "
                          f"'{recipe.task}' works in tiles of its own")
    if recipe.inpaint_area == "masked":
        raise RecipeError("tiling", "needs the whole picture: use inpaint_area 'whole' (the mask's box alone has "
                          "no edges to join)")
    if recipe.hires is not None:
        raise RecipeError("tiling", "and a hires fix do not go together yet: the second pass works in tiles, "
                          "which would break the seams")


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe JSON file; relative paths inside it are resolved against its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError("(file)", f"no recipe file at {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecipeError("(file)", f"cannot read {path}: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecipeError("(file)", f"{path.name} is not valid JSON: {error.msg} at line {error.lineno}") from None
    return parse_recipe(data).with_paths_resolved(path.parent.resolve())
