"""Textual-inversion embeddings called by name, as in AUTOMATIC1111: an embedding file's name (without
.safetensors) written as a word of the prompt or negative prompt (`easynegative`, `(bad-hands-5:1.2)`) brings
its vectors in at that place. Here the words are matched to files; engine/prompt_embeds.py places the vectors.

A word matches whole (not inside a longer word or hyphenated name) and in any case. Only the embeddings a prompt
names go into the recipe, so a picture records exactly the files it used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from studio.core.errors import RecipeError


def word_pattern(names: Iterable[str]) -> re.Pattern | None:
    """A pattern finding any of `names` as a whole word, longest first (so `bad-hands-5` wins over `bad`)."""
    names = sorted({name for name in names if name}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])", re.IGNORECASE)


def named_in(texts: Iterable[str], names: Iterable[str]) -> list[str]:
    """The names written in the texts, lower case, in order of first appearance."""
    pattern = word_pattern(names)
    if pattern is None:
        return []
    found: list[str] = []
    for text in texts:
        for match in pattern.finditer(text or ""):
            if match.group(1).lower() not in found:
                found.append(match.group(1).lower())
    return found


def apply_embedding_words(values: Mapping[str, Any], files: Mapping[str, list[str]]) -> dict[str, Any]:
    """Recipe values with `embeddings`: the embedding files (`files`: core.lora_tags.files_by_name of the
    embeddings the user has) whose names the prompt or negative prompt writes. A name that two files share fails."""
    texts = (values.get("prompt") or "", values.get("negative_prompt") or "")
    listed = list(values.get("embeddings") or [])
    known = {Path(str(item.get("path"))).stem.lower() for item in listed if isinstance(item, dict)}
    paths = []
    for name in named_in(texts, files):
        if name in known:
            continue  # the recipe names its file already
        if len(files[name]) > 1:
            raise RecipeError("prompt", f"'{name}' names {len(files[name])} embeddings ({', '.join(files[name])}); "
                              "rename one, or keep one in the models folders")
        paths.append(files[name][0])
    return {**values, "embeddings": listed + [{"path": path} for path in paths]}
