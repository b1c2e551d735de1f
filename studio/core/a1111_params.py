"""Reading AUTOMATIC1111's `parameters` text (the "PNG Info" of pictures made by A1111, Forge, Civitai and
Studio itself) back into panel values: prompt, negative prompt, steps, sampler, CFG scale, seed, denoising
strength, clip skip, hires fix, tiling and the inpainting fields. LoRA tags stay in the prompt, where Studio reads them.

The text is split as A1111's `parse_generation_parameters` splits it: prompt lines, then the lines after
"Negative prompt:", then a last line of `Key: value` pairs (a quoted value may hold commas). What Studio has no
equal for (a sampler it lacks, "latent noise" content, a latent hires upscaler…) becomes a note instead of a guess.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from studio.core.recipe import MAX_CLIP_SKIP, MAX_HIRES_FACTOR, MAX_SEED

PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')  # A1111's re_param
NEGATIVE = "Negative prompt:"
KARRAS = "Karras"
MASKED_CONTENT = {"original": "original", "fill": "fill"}
A1111_HIRES_STRENGTH = 0.7  # A1111's default hires denoising strength, for a text that leaves it out
NOT_SUPPORTED = {"ADetailer model": "ADetailer", "Refiner": "the SDXL refiner", "Variation seed": "variation seeds"}


@dataclass(frozen=True)
class SamplerName:
    """A sampler the window offers: its id, its A1111 label, and whether it takes a "karras" parameter."""

    id: str
    label: str
    karras: bool = False


@dataclass
class Parameters:
    """Panel values (keys as `RecipePanel.restore` takes them), the model's name, and what was left out."""

    values: dict[str, Any] = field(default_factory=dict)
    model_name: str | None = None
    notes: list[str] = field(default_factory=list)


def split_parameters(text: str) -> tuple[str, str, dict[str, str]]:
    """(prompt, negative prompt, {key: value}) as A1111 splits its text."""
    *lines, last = text.strip().split("\n")
    if len(PAIR.findall(last)) < 3:  # no settings line: it is part of the prompt
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE):
            in_negative, line = True, line[len(NEGATIVE):].strip()
        (negative if in_negative else prompt).append(line)
    pairs = {}
    for key, value in PAIR.findall(last):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = value[1:-1]
        pairs[key.strip()] = value.strip()
    return "\n".join(prompt), "\n".join(negative), pairs


def parse_parameters(text: str, samplers: Sequence[SamplerName] = ()) -> Parameters | None:
    """The panel values of an A1111 `parameters` text, or None when the text holds no settings line.
    `samplers`: the samplers the window offers, matched by label."""
    if not isinstance(text, str) or not text.strip():
        return None
    prompt, negative, pairs = split_parameters(text)
    if "Steps" not in pairs:
        return None
    found = Parameters({"prompt": prompt, "negative_prompt": negative, "seed_locked": True},
                       pairs.get("Model") or None)
    values, notes = found.values, found.notes
    _number(pairs, "Steps", int, 1, 1000, values, "steps", notes)
    _number(pairs, "CFG scale", float, 0.0, 100.0, values, "guidance", notes)
    _number(pairs, "Seed", int, 0, MAX_SEED, values, "seed", notes)
    if "Hires upscale" in pairs:  # A1111's "Denoising strength" is then the hires fix's
        _hires(pairs, values, notes)
    else:
        _number(pairs, "Denoising strength", float, 0.0, 1.0, values, "strength", notes)
    _number(pairs, "Clip skip", int, 1, MAX_CLIP_SKIP, values, "clip_skip", notes)
    _number(pairs, "Mask blur", float, 0.0, 256.0, values, "mask_feather", notes)
    _number(pairs, "Masked area padding", int, 0, 4096, values, "mask_padding", notes)
    if "Inpaint area" in pairs:
        values["inpaint_area"] = "masked" if pairs["Inpaint area"].lower() == "only masked" else "whole"
    if pairs.get("Tiling", "").lower() == "true":
        values["tiling"] = True
    content = pairs.get("Masked content", "").lower()
    if content in MASKED_CONTENT:
        values["masked_content"] = MASKED_CONTENT[content]
    elif content:
        notes.append(f"masked content '{pairs['Masked content']}' has no equal in Studio (original and fill do)")
    if "Sampler" in pairs:
        _sampler(pairs["Sampler"], pairs.get("Schedule type", ""), samplers, values, notes)
    features = sorted({what for key, what in NOT_SUPPORTED.items() if key in pairs})
    if features:
        notes.append(f"{', '.join(features)} not carried over: Studio has no equal")
    return found


def _hires(pairs: dict, values: dict, notes: list) -> None:
    hires = {"use": True, "strength": A1111_HIRES_STRENGTH, "steps": 0}
    _number(pairs, "Hires upscale", float, 1.0, MAX_HIRES_FACTOR, hires, "factor", notes)
    _number(pairs, "Denoising strength", float, 0.0, 1.0, hires, "strength", notes)
    _number(pairs, "Hires steps", int, 0, 1000, hires, "steps", notes)
    if "factor" not in hires:
        return
    values["hires"] = hires
    upscaler = pairs.get("Hires upscaler", "")
    if upscaler and upscaler.lower() not in ("lanczos", "none"):
        notes.append(f"hires upscaler '{upscaler}' has no equal in Studio; its hires fix enlarges with Lanczos")


def _number(pairs: dict, key: str, kind: Callable, low: float, high: float, values: dict, name: str,
            notes: list) -> None:
    if key not in pairs:
        return
    try:
        number = kind(float(pairs[key])) if kind is int and float(pairs[key]).is_integer() else kind(pairs[key])
    except ValueError:
        notes.append(f"{key} '{pairs[key]}' is not a number")
        return
    if not math.isfinite(number) or not low <= number <= high:
        notes.append(f"{key} {pairs[key]} is out of Studio's range ({low:g} to {high:g})")
        return
    values[name] = number


def _sampler(label: str, schedule: str, samplers: Sequence[SamplerName], values: dict, notes: list) -> None:
    """A1111's sampler name (with its Karras suffix, or A1111 1.9's separate "Schedule type") → Studio's."""
    karras = label.endswith(f" {KARRAS}") or schedule == KARRAS
    name = label.removesuffix(f" {KARRAS}").strip().lower()
    by_label = {sampler.label.lower(): sampler for sampler in samplers}
    if karras and f"{name} karras" in by_label:
        values["sampler"], values["sampler_params"] = by_label[f"{name} karras"].id, {}
        return
    sampler = by_label.get(name)
    if sampler is None:
        notes.append(f"sampler '{label}' is not one Studio has; the sampler shown is kept")
        return
    values["sampler"] = sampler.id
    values["sampler_params"] = {"karras": True} if karras and sampler.karras else {}
    if karras and not sampler.karras:
        notes.append(f"{sampler.label} has no Karras schedule in Studio; it runs with its own")
    elif schedule and schedule not in (KARRAS, "Automatic"):
        notes.append(f"schedule type '{schedule}' has no equal in Studio; the sampler's own is used")
