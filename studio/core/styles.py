"""Prompt styles, AUTOMATIC1111's way: a `styles.csv` of name, prompt, negative_prompt rows in the user config
folder (an A1111 styles.csv copied there works as it is). A style's text joins the prompt when a job is made, so
the recipe holds the whole prompt and reproduces without the style.

A style text holding `{prompt}` takes the prompt in that place; otherwise it follows the prompt after ", ".
Unreadable files and malformed rows never stop the app: the rows that read are used.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from platformdirs import user_config_dir

from studio.core.atomic import write_text

STYLES_FILE = "styles.csv"
COLUMNS = ("name", "prompt", "negative_prompt")
PLACEHOLDER = "{prompt}"


@dataclass(frozen=True)
class Style:
    name: str
    prompt: str = ""
    negative_prompt: str = ""


def styles_path() -> Path:
    return Path(user_config_dir("studio", appauthor=False)) / STYLES_FILE


def read_styles(path: Path | None = None) -> list[Style]:
    """The styles of the file, in its order, one per name (the first wins); none when it cannot be read."""
    try:
        text = (path or styles_path()).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return []
    styles: dict[str, Style] = {}
    try:
        for row in csv.DictReader(io.StringIO(text)):
            name = (row.get("name") or "").strip()
            if name and name not in styles:
                styles[name] = Style(name, (row.get("prompt") or "").strip(), (row.get("negative_prompt") or "").strip())
    except csv.Error:
        pass  # keep the rows read before the damage
    return list(styles.values())


def write_styles(styles: list[Style], path: Path | None = None) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for style in styles:
        writer.writerow((style.name, style.prompt, style.negative_prompt))
    return write_text(path or styles_path(), out.getvalue())


def merge(style_text: str, text: str) -> str:
    """A1111's merge_prompts: the style around `{prompt}`, or after the prompt with ", "."""
    if PLACEHOLDER in style_text:
        return style_text.replace(PLACEHOLDER, text)
    return ", ".join(part for part in (text.strip(), style_text.strip()) if part)


def apply_style(values: Mapping[str, Any], style: Style | None) -> dict[str, Any]:
    """Recipe values with the style's prompt and negative prompt joined to theirs."""
    if style is None:
        return dict(values)
    return {**values, "prompt": merge(style.prompt, values.get("prompt") or ""),
            "negative_prompt": merge(style.negative_prompt, values.get("negative_prompt") or "")}
