"""The LoRAs of the next job: each a .safetensors file and its weight, added with a file picker (or from the LoRAs
found in the models folders), and removed with its button. The task panels hide it where LoRAs do not apply
(upscaling, Studio's starter models)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QVBoxLayout, QWidget

from studio.core.checkpoints import lora_trigger_words
from studio.core.recipe import MAX_LORA_WEIGHT
from studio.ui import dialogs
from studio.ui.fields import SliderField

SLIDER_RANGE = (-1.0, 2.0)  # the everyday weights; the number field takes the recipe's whole range


def checked_loras(value: Any) -> list[tuple[str, float]]:
    """(path, weight) of remembered LoRAs that Qt can be given: a .safetensors path and a finite weight in range;
    anything else is skipped."""
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        if not isinstance(item, dict):
            continue
        path, weight = item.get("path"), item.get("weight", 1.0)
        if not isinstance(path, str) or not path.lower().endswith(".safetensors"):
            continue
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            continue
        if abs(weight) <= MAX_LORA_WEIGHT and path not in (p for p, _ in found):
            found.append((path, float(weight)))
    return found


class LoraRow(QWidget):
    changed = Signal()
    remove_requested = Signal(str)

    def __init__(self, path: str, weight: float = 1.0, parent=None):
        super().__init__(parent)
        self.path = path
        self.name = QLabel(Path(path).stem if Path(path).is_file() else f"{Path(path).stem} (missing)")
        words = lora_trigger_words(path) if Path(path).is_file() else []
        self.name.setToolTip(path + (f"\nTrained with: {', '.join(words)}" if words else ""))
        self.weight = SliderField(-MAX_LORA_WEIGHT, MAX_LORA_WEIGHT, weight, decimals=2, step=0.05,
                                  soft_maximum=SLIDER_RANGE[1])
        self.weight.slider.setMinimum(round(SLIDER_RANGE[0] * 100))
        self.weight.setToolTip("How strongly the LoRA applies: 1 as trained, 0 off, below 0 the opposite")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this LoRA")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.name, 1)
        layout.addWidget(self.weight, 2)
        layout.addWidget(self.remove)
        self.weight.valueChanged.connect(self.changed)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self.path))


class LoraPanel(QGroupBox):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__("LoRAs", parent)
        self.rows: list[LoraRow] = []
        self._listed: list[tuple[str, str, str]] = []  # (name, path, description) found in the models folders
        self._last_folder: str | None = None
        self._rows = QVBoxLayout()
        self._rows.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton("Add LoRA…")
        self.add_button.setToolTip("Add a LoRA (.safetensors, kohya/AUTOMATIC1111 or diffusers) for SD 1.x, 2.x or SDXL")
        self.add_button.clicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.addLayout(self._rows)
        layout.addWidget(self.add_button)

    # Rows

    def add_lora(self, path: str | Path, weight: float = 1.0) -> LoraRow:
        """Add a LoRA, or return its row if it is there already (one file, one weight)."""
        path = str(path)
        row = self.row(path)
        if row is not None:
            return row
        row = LoraRow(path, weight)
        row.changed.connect(self.changed)
        row.remove_requested.connect(self.remove_lora)
        self.rows.append(row)
        self._rows.addWidget(row)
        self.changed.emit()
        return row

    def remove_lora(self, path: str) -> None:
        row = self.row(path)
        if row is None:
            return
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.changed.emit()

    def clear(self) -> None:
        for row in list(self.rows):
            self.remove_lora(row.path)

    def row(self, path: str) -> LoraRow | None:
        return next((row for row in self.rows if row.path == path), None)

    # Adding

    def set_models(self, loras: list[tuple[str, str, str]]) -> None:
        """(name, path, description) of the LoRAs found in the models folders: the Add button offers them."""
        self._listed = list(loras)
        menu = None
        if self._listed:
            menu = QMenu(self.add_button)
            for name, path, description in self._listed:
                action = menu.addAction(name)
                action.setToolTip(description)
                action.triggered.connect(lambda _=False, p=path: self.add_lora(p))
            menu.addSeparator()
            menu.addAction("Other file…").triggered.connect(self._browse)
        self.add_button.setMenu(menu)

    def _clicked(self) -> None:
        if self.add_button.menu() is None:  # with LoRAs listed the button opens its menu, which can browse too
            self._browse()

    def _browse(self) -> None:
        path = dialogs.ask_lora(self.window(), self._last_folder)
        if path is not None:
            self._last_folder = str(path.parent)
            self.add_lora(str(path.resolve()))

    # Values

    def values(self) -> list[dict[str, Any]]:
        """The recipe's `loras` field."""
        return [{"path": row.path, "weight": float(row.weight.value())} for row in self.rows]

    def known_paths(self) -> list[str]:
        """The LoRA files a prompt's `<lora:name:weight>` tag can name: those in the panel, then those found in the
        models folders."""
        return [row.path for row in self.rows] + [path for _, path, _ in self._listed]

    def state(self) -> list[dict[str, Any]]:
        return self.values()

    def restore(self, state: Any) -> None:
        """Show remembered (or a recipe's) LoRAs in place of the current ones; unusable entries are skipped."""
        if not isinstance(state, list):
            return
        self.clear()
        for path, weight in checked_loras(state):
            self.add_lora(path, weight)
