"""AUTOMATIC1111's LoRA tags in a prompt: `<lora:name:weight>` switches on the LoRA file named `name` (its file
name without .safetensors, any case) at that weight, and the tag itself is not part of the text the model reads.

`<lora:name>` means weight 1; `<lyco:…>` is the same tag as LyCORIS' extension writes it. A tag that names no
LoRA Studio knows, or names two, fails with the names it knows, rather than running without the LoRA.
A1111's separate text-encoder and UNet weights (`<lora:name:0.8:0.5>`, `te=`, `unet=`) are refused plainly:
Studio applies one weight to every part of a LoRA. Tags are read from the prompt only, as A1111 reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from studio.core.errors import RecipeError

TAG = re.compile(r"<(lora|lyco):([^<>]*)>", re.I)
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class LoraTag:
    name: str
    weight: float
    text: str  # the tag as written, for messages


def split_lora_tags(prompt: str) -> tuple[str, list[LoraTag]]:
    """The prompt without its LoRA tags (the spaces around a removed tag collapse to one), and the tags in order."""
    tags = [_tag(match) for match in TAG.finditer(prompt)]
    if not tags:
        return prompt, []
    text = _SPACES.sub(" ", TAG.sub("", prompt))
    return "\n".join(line.strip() for line in text.split("\n")).strip(), tags


def _tag(match: re.Match) -> LoraTag:
    text = match.group(0)
    name, *weights = [part.strip() for part in match.group(2).split(":")]
    if not name:
        raise RecipeError("prompt", f"{text} names no LoRA; write <lora:name:weight>")
    if any("=" in weight for weight in weights) or len(set(weights)) > 1:
        raise RecipeError("prompt", f"{text}: Studio applies one weight to every part of a LoRA; "
                          f"write <lora:{name}:weight>")
    try:
        weight = float(weights[0]) if weights and weights[0] else 1.0
    except ValueError:
        raise RecipeError("prompt", f"{text}: {weights[0]!r} is not a weight; write <lora:{name}:0.8>") from None
    return LoraTag(name, weight, text)


def files_by_name(paths: Iterable[str | Path]) -> dict[str, list[str]]:
    """LoRA files by the name a tag uses: file name without its suffix, lower case."""
    found: dict[str, list[str]] = {}
    for path in paths:
        names = found.setdefault(Path(path).stem.lower(), [])
        if not any(_same_file(path, other) for other in names):  # one file listed twice (a folder, the panel)
            names.append(str(path))
    return found


def _same_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def apply_lora_tags(values: Mapping[str, Any], files: Mapping[str, list[str]]) -> dict[str, Any]:
    """Recipe values with the prompt's LoRA tags moved into `loras`: a tag for a LoRA already listed sets its
    weight, another adds it. `files` is `files_by_name(...)` of the LoRAs the user has (models folders, the panel)."""
    prompt, tags = split_lora_tags(values.get("prompt") or "")
    if not tags:
        return dict(values)
    loras = [dict(lora) for lora in values.get("loras") or []]
    for tag in tags:
        path = _find(tag, files)
        listed = next((lora for lora in loras if _same_file(str(lora.get("path")), path)), None)
        if listed is None:
            loras.append({"path": path, "weight": tag.weight})
        else:
            listed["weight"] = tag.weight
    return {**values, "prompt": prompt, "loras": loras}


def strip_lora_tags(values: Mapping[str, Any]) -> dict[str, Any]:
    """Recipe values without the prompt's LoRA tags, for the tasks and models that take no LoRA (the tags stay in
    the prompt box, and the model does not read them as words)."""
    prompt, tags = split_lora_tags(values.get("prompt") or "")
    return {**values, "prompt": prompt} if tags else dict(values)


def _find(tag: LoraTag, files: Mapping[str, list[str]]) -> str:
    paths = files.get(Path(tag.name).stem.lower() if tag.name.lower().endswith(".safetensors") else tag.name.lower())
    if not paths:
        known = sorted({Path(p).stem for ps in files.values() for p in ps})
        hint = f"the LoRAs Studio knows are {', '.join(known)}" if known else "Studio knows no LoRA yet"
        raise RecipeError("prompt", f"{tag.text}: no LoRA named {tag.name!r} ({hint}); put {tag.name}.safetensors "
                          "in a models folder, or add it in the LoRAs panel")
    if len(paths) > 1:
        raise RecipeError("prompt", f"{tag.text}: {len(paths)} LoRAs are named {tag.name!r} ({', '.join(paths)}); "
                          "add the one you mean in the LoRAs panel, or rename one")
    return paths[0]
