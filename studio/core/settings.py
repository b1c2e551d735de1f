"""What the window remembers between launches, as JSON in the platform's user config folder.

Written atomically (temporary file, then rename) so a crash never leaves half a file; a damaged or
hand-edited file never stops the app: unreadable files are set aside, values of the wrong type fall back
to their defaults one by one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from studio.core.atomic import write_text

SETTINGS_FILE = "settings.json"
MAX_RECENT = 10


@dataclass
class Settings:
    last_model: str | None = None
    model_files: list = field(default_factory=list)  # checkpoints added one by one
    model_folders: list = field(default_factory=list)  # folders scanned for checkpoints
    last_picture_folder: str | None = None
    last_export_folder: str | None = None
    recent_pictures: list = field(default_factory=list)
    panel: dict = field(default_factory=dict)  # recipe values shown in the panels, by recipe field name
    brush: dict = field(default_factory=dict)  # size, hardness, opacity
    batch: dict = field(default_factory=dict)  # the batch export dialog's last folder, naming, format, count
    keep_results: bool = True  # every result also written to the outputs folder (core/outputs.py)
    overlay_opacity: float = 0.5
    overlay_color: str = "#ff3b5c"
    window_geometry: str = ""  # Qt's saveGeometry, base64
    window_state: str = ""  # Qt's saveState, base64

    def add_recent_picture(self, path: str) -> None:
        self.recent_pictures = [path] + [p for p in self.recent_pictures if p != path][: MAX_RECENT - 1]


def _expected_types(value: Any) -> tuple[type, ...]:
    if isinstance(value, bool):
        return (bool,)
    if isinstance(value, float):
        return (float, int)
    if value is None:
        return (str, type(None))
    return (type(value),)


def _cleaned(value: Any, default: Any) -> Any:
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list):
        return [item for item in value if isinstance(item, str)]
    return value


def _defaults() -> dict[str, Any]:
    return dataclasses.asdict(Settings())


def settings_path() -> Path:
    return Path(user_config_dir("studio", appauthor=False)) / SETTINGS_FILE


def settings_from_dict(data: Any) -> Settings:
    """Keep each known value of the right type; anything else falls back to its default."""
    defaults = _defaults()
    values = {}
    if isinstance(data, dict):
        for f in fields(Settings):
            if f.name in data and isinstance(data[f.name], _expected_types(defaults[f.name])):
                values[f.name] = _cleaned(data[f.name], defaults[f.name])
    return Settings(**values)


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError):
        _set_aside(path)
        return Settings()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        _set_aside(path)
        return Settings()
    return settings_from_dict(data)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    return write_text(path or settings_path(), json.dumps(dataclasses.asdict(settings), indent=2, sort_keys=True))


def _set_aside(path: Path) -> None:
    """Keep a damaged file for the curious (settings.json.damaged) instead of overwriting it silently."""
    try:
        os.replace(path, path.with_name(path.name + ".damaged"))
    except OSError:
        pass
