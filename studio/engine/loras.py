"""LoRAs on the loaded model, through diffusers' own LoRA loader (peft is its backend).

A LoRA file is read once per loaded model and stays on it as a peft adapter of the UNet and text encoders; each
job switches on its own LoRAs at their weights (`set_adapters`), so a new weight reloads nothing. A job without
LoRAs switches every adapter off: a disabled peft layer returns its base layer's output untouched, so its pixels
are the base model's, bit for bit. A file whose tensors do not fit the model fails the job with its name and the
mismatch, and leaves no part of itself on the model.

The UNet's speed switches know about this (engine/speed.py): while a LoRA is on, its attention projections are
not fused (the fused copy holds the base weights only) and it is not compiled (every new weight would recompile).
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from safetensors import SafetensorError
from safetensors.torch import load_file

from studio.core import checkpoints
from studio.core.errors import ModelError, RecipeError
from studio.core.recipe import LoraRef
from studio.engine.loading import LoadedModel
from studio.engine.pipelines import assemble_pipeline

MAX_ADAPTERS = 8  # LoRAs kept on a model between jobs; the least recently used goes first
COMPONENTS = ("unet", "text_encoder", "text_encoder_2")
FAMILY_NAMES = {**checkpoints.MADE_FOR_LABELS, "sd1": "SD 1.x"}  # LoRA families, and models' bases (sd1…)
NOT_LORA = {"pipeline": "a Stable Diffusion checkpoint", "controlnet": "a ControlNet", "upscaler": "an upscaler"}
LORA_BASES = {"sd15": "sd1", "sd2": "sd2", "sdxl": "sdxl"}  # core.checkpoints.lora_family → CheckpointInfo.base
SIZE_MISMATCH = re.compile(
    r"size mismatch for (?P<layer>\S+?)\.lora_[AB]\.[^.\s]+\.weight: copying a param with shape "
    r"torch\.Size\(\[(?P<file>[^\]]*)\]\) from checkpoint, the shape in current model is torch\.Size\(\[(?P<model>[^\]]*)\]\)"
)


@dataclass
class LoraCache:
    """What a loaded model holds (in `model.extra["loras"]`): the adapters it has, and which are switched on."""

    adapters: OrderedDict = field(default_factory=OrderedDict)  # (path, size, mtime) → adapter name, oldest use first
    active: tuple | None = ()  # ((adapter name, weight), …) switched on; None when unknown (after a load)
    made: int = 0  # adapter names are never reused


def apply_loras(model: LoadedModel, loras: Sequence[LoraRef]) -> None:
    """Switch on exactly the job's LoRAs at their weights, loading those the model does not hold yet."""
    cache = model.extra.get("loras")
    if cache is None:
        if not loras:
            return  # a model that never had a LoRA
        cache = model.extra["loras"] = LoraCache()
    keys = [_file_key(index, lora) for index, lora in enumerate(loras)]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            raise RecipeError(f"loras[{index}].path", f"is the same file as loras[{keys.index(key)}]; list it once")
    names = [_adapter(model, cache, key, set(keys)) for key in keys]
    wanted = tuple((name, lora.weight) for name, lora in zip(names, loras) if lora.weight != 0)
    if wanted != cache.active:
        _switch(model, wanted)
        cache.active = wanted


def lora_hashes(loras: Sequence[LoraRef]) -> dict[str, str]:
    """The sha256 of each LoRA file, as `loraN` entries of a result's hashes."""
    from studio.core.hashing import model_hash

    return {f"lora{index}": model_hash(lora.path) for index, lora in enumerate(loras)}


def _file_key(index: int, lora: LoraRef) -> tuple:
    path = Path(lora.path).expanduser()
    if not path.is_file():
        raise RecipeError(f"loras[{index}].path", f"no such file: {path}")
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _adapter(model: LoadedModel, cache: LoraCache, key: tuple, keep: set) -> str:
    """The adapter name of the file `key`, loading it onto the model the first time."""
    if key in cache.adapters:
        cache.adapters.move_to_end(key)
        return cache.adapters[key]
    _make_room(model, cache, keep)
    path = Path(key[0])
    name = f"lora{cache.made}_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)[:40]}"  # peft keys cannot hold dots
    cache.made += 1
    cache.active = None  # the loader switches the new adapter on in the parts it loads into
    _load(model, path, name)
    cache.adapters[key] = name
    return name


def _make_room(model: LoadedModel, cache: LoraCache, keep: set) -> None:
    """Drop the least recently used adapters beyond MAX_ADAPTERS, never one the current job asks for."""
    while len(cache.adapters) >= MAX_ADAPTERS:
        old = next((key for key in cache.adapters if key not in keep), None)
        if old is None:
            return
        _remove(model, cache.adapters.pop(old))
        cache.active = None


def _loader(model: LoadedModel):
    """A pipeline around the model's own components, for diffusers' LoRA methods (it copies no weights)."""
    return assemble_pipeline(model, "text2img", scheduler=None)


def check_peft() -> None:
    """LoRAs on text encoders go through transformers' peft integration, which refuses a peft older than it needs;
    say so plainly rather than as a LoRA that "does not fit"."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version
    from transformers.integrations import peft as transformers_peft

    needed = getattr(transformers_peft, "MIN_PEFT_VERSION", "0")
    try:
        installed = version("peft")
    except PackageNotFoundError:
        raise ModelError(f"LoRAs need the peft package (>= {needed}): pip install 'peft>={needed}'") from None
    if Version(installed) < Version(needed):
        raise ModelError(f"LoRAs need peft >= {needed} with transformers {version('transformers')}, and peft {installed} "
                         f"is installed: pip install 'peft>={needed}', or a transformers that accepts peft {installed}")


def _load(model: LoadedModel, path: Path, name: str) -> None:
    check_peft()
    shapes = _read_shapes(path)
    _check_family(model, path, shapes)
    state = _read(path)
    pipe = _loader(model)
    expected = _expected_layers(pipe, model, path, state)
    try:
        with _quiet_loaders():
            pipe.load_lora_weights(state, adapter_name=name)
    except (RuntimeError, ValueError, KeyError, IndexError) as error:
        loaded = _loaded_layers(model, name)  # the parts load in order: the first without the adapter failed
        failed = next((part for part in COMPONENTS if expected.get(part) and not loaded.get(part)), "")
        _remove(model, name)
        raise ModelError(f"LoRA {path.name} does not fit {_model_name(model)}: {_mismatch(error, failed)}") from None
    loaded = _loaded_layers(model, name)
    for component, count in expected.items():
        if loaded.get(component, 0) < count:
            _remove(model, name)
            raise ModelError(f"LoRA {path.name} does not fit {_model_name(model)}: {count - loaded.get(component, 0)} "
                             f"of its {count} {component.replace('_', ' ')} layers match no layer of the model")


def _read_shapes(path: Path) -> dict:
    try:
        shapes = checkpoints.read_shapes(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"cannot read the LoRA {path.name}: damaged or not a safetensors file ({error})") from None
    if not checkpoints.is_lora(shapes):
        kind = checkpoints.family_from_shapes(path, shapes).kind
        raise ModelError(f"{path.name} is not a LoRA: it holds {NOT_LORA.get(kind, 'no LoRA layers')}")
    return shapes


def _read(path: Path) -> dict:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise ModelError(f"cannot read the LoRA {path.name}: damaged or truncated ({error})") from None


def _check_family(model: LoadedModel, path: Path, shapes: dict) -> None:
    """A LoRA made for another family, named as such before any tensor is read."""
    made_for, base = checkpoints.lora_family(shapes), model.info.base
    if made_for and base and LORA_BASES[made_for] != base:
        raise ModelError(f"LoRA {path.name} was made for {FAMILY_NAMES[made_for]} models; "
                         f"{model.info.name} is {FAMILY_NAMES[base]}")


def _expected_layers(pipe, model: LoadedModel, path: Path, state: dict) -> dict[str, int]:
    """How many layers of each model part the file holds, read the way the loader reads it (kohya/A1111 names
    converted); parts the model does not have are refused here, as the loader would skip them silently."""
    options = {"unet_config": model.components["unet"].config} if "text_encoder_2" in model.components else {}
    try:
        converted, _ = type(pipe).lora_state_dict(dict(state), **options)
    except (ValueError, KeyError, IndexError) as error:
        raise ModelError(f"LoRA {path.name} is in a layout Studio cannot read: {_first_line(error)}") from None
    counts: dict[str, int] = {}
    for key in converted:
        if key.endswith(checkpoints.LORA_DOWN):
            part = key.split(".", 1)[0]
            counts[part] = counts.get(part, 0) + 1
    for part in counts:
        if part not in COMPONENTS or part not in model.components:
            raise ModelError(f"LoRA {path.name} does not fit {_model_name(model)}: it adapts '{part}', which the "
                             "model does not have")
    return counts


def _loaded_layers(model: LoadedModel, name: str) -> dict[str, int]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return {part: sum(1 for module in model.components[part].modules()
                      if isinstance(module, BaseTunerLayer) and name in getattr(module, "lora_A", {}))
            for part in COMPONENTS if part in model.components}


def _switch(model: LoadedModel, wanted: tuple) -> None:
    pipe = _loader(model)
    if wanted:
        pipe.enable_lora()
        pipe.set_adapters([name for name, _ in wanted], [weight for _, weight in wanted])
    else:
        pipe.disable_lora()


@contextlib.contextmanager
def _quiet_loaders():
    """While a LoRA loads: no progress bar, and none of the loaders' own reports (a table of "missing" keys that
    are the other adapters' weights, an error log before the exception this module words for the person)."""
    from transformers.utils import logging as transformers_logging

    loggers = [logging.getLogger(name) for name in ("diffusers", "transformers", "peft")]
    levels = [logger.level for logger in loggers]
    bar = transformers_logging.is_progress_bar_enabled()
    try:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        transformers_logging.disable_progress_bar()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*peft_config.*multiple adapters")
            warnings.filterwarnings("ignore", message="Adapter .* was active which is now deleted")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if bar:
            transformers_logging.enable_progress_bar()


def _remove(model: LoadedModel, name: str) -> None:
    """Take an adapter off every part of the model (the peft wrappers stay, and without adapters they only
    call the base layer)."""
    with _quiet_loaders():  # peft warns that it picks another active adapter: the next job sets them all anyway
        _loader(model).delete_adapters(name)


def _model_name(model: LoadedModel) -> str:
    family = FAMILY_NAMES.get(model.info.base or "")
    return f"{model.info.name} ({family})" if family else model.info.name


def _mismatch(error: Exception, part: str) -> str:
    """The loaders' error in one line: the first layer whose shape differs, when they name it."""
    found = SIZE_MISMATCH.search(str(error))
    if found is not None:
        return (f"layer {found['layer']} has shape [{found['model']}] in the model but [{found['file']}] in the file "
                "(a LoRA for another model family?)")
    if "mismatch" in str(error).lower():
        where = f"its {part.replace('_', ' ')} layers" if part else "its layers"
        return f"{where} have other shapes than the model's (a LoRA for another model family?)"
    return _first_line(error)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
