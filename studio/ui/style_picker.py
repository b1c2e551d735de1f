"""The prompt style of the next job: a choice among the styles of styles.csv (core/styles.py), and a button that
saves the prompts shown as a new style (or replaces the one of that name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QToolButton, QWidget

from studio.core.styles import Style, apply_style, read_styles, styles_path, write_styles
from studio.ui import dialogs

NO_STYLE = "No style"


class StylePicker(QWidget):
    changed = Signal()
    saved = Signal(str)  # the style's name: the window says so
    failed = Signal(str)

    def __init__(self, path: Path | None = None, parent=None):
        super().__init__(parent)
        self.path = path  # None: the user config folder's styles.csv
        self.styles: list[Style] = []
        self.combo = QComboBox()
        self.combo.setToolTip("A style's prompt joins yours when a job is made (its {prompt} takes your prompt); "
                              "styles live in styles.csv in Studio's settings folder, as in AUTOMATIC1111")
        self.save_button = QToolButton()
        self.save_button.setText("Save…")
        self.save_button.setToolTip("Save the prompt and negative prompt shown as a style")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.save_button)
        self.combo.currentIndexChanged.connect(self.changed)
        self.reload()

    def reload(self) -> None:
        """Read styles.csv again; the chosen style stays chosen while it is there."""
        current = self.current_name
        self.styles = read_styles(self.path)
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(NO_STYLE, None)
        for style in self.styles:
            self.combo.addItem(style.name, style.name)
            self.combo.setItemData(self.combo.count() - 1, _describe(style), Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)) if current else 0)
        self.combo.blockSignals(False)

    @property
    def file(self) -> Path:
        return self.path or styles_path()

    @property
    def current_name(self) -> str | None:
        return self.combo.currentData() if self.combo.count() else None

    @property
    def current(self) -> Style | None:
        return next((style for style in self.styles if style.name == self.current_name), None)

    def choose(self, name: Any) -> None:
        """Choose the style of that name ("" for none); an unknown name changes nothing."""
        if name == "":
            self.combo.setCurrentIndex(0)
        elif isinstance(name, str) and self.combo.findData(name) >= 0:
            self.combo.setCurrentIndex(self.combo.findData(name))

    def apply(self, values: dict[str, Any]) -> dict[str, Any]:
        return apply_style(values, self.current)

    def save(self, name: str, prompt: str, negative: str) -> bool:
        """Add (or replace) the style `name` with these prompts and choose it; False when the file cannot be written."""
        styles = [style for style in read_styles(self.path) if style.name != name] + [Style(name, prompt, negative)]
        try:
            write_styles(styles, self.path)
        except OSError as error:
            self.failed.emit(f"The style could not be saved: {error}")
            return False
        self.reload()
        self.choose(name)
        self.saved.emit(name)
        return True

    def ask_save(self, prompt: str, negative: str) -> None:
        name = dialogs.ask_style_name(self.window(), self.current_name or "")
        if name is not None:
            self.save(name, prompt, negative)


def _describe(style: Style) -> str:
    lines = [f"Prompt: {style.prompt}" if style.prompt else "", f"Negative: {style.negative_prompt}" if style.negative_prompt else ""]
    return "\n".join(line for line in lines if line) or "(empty)"
