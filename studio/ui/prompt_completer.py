"""Completion in the prompt boxes: after `<lora:` the LoRA names Studio knows, and after three letters of a word
the embedding names that start with them. Choosing one writes `<lora:name:1>` or the embedding's name in place
of what was typed. The names are those of the LoRAs section and the models folders."""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QCompleter, QPlainTextEdit

LORA_PREFIX = re.compile(r"<(?:lora|lyco):([^:<>]*)$", re.IGNORECASE)
WORD_PREFIX = re.compile(r"(?<![\w-])([\w-]{3,})$")
KEYS_FOR_THE_POPUP = (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Escape, Qt.Key.Key_Tab, Qt.Key.Key_Backtab)


def completion_at(text: str, loras: list[str], embeddings: list[str]) -> tuple[str, str, list[str]] | None:
    """(kind, the typed prefix, the names that fit) for the text before the cursor, or None: "lora" after an open
    `<lora:` tag, "embedding" after three or more letters of a word that starts an embedding's name."""
    match = LORA_PREFIX.search(text)
    if match:
        typed = match.group(1)
        found = [name for name in loras if name.lower().startswith(typed.lower())]
        return ("lora", typed, found) if found else None
    match = WORD_PREFIX.search(text)
    if match:
        typed = match.group(1)
        found = [name for name in embeddings if name.lower().startswith(typed.lower()) and name.lower() != typed.lower()]
        return ("embedding", typed, found) if found else None
    return None


def completed(kind: str, name: str) -> str:
    """What replaces the typed prefix: the rest of the LoRA tag (with weight 1), or the embedding's name."""
    return f"{name}:1>" if kind == "lora" else name


class PromptCompleter(QObject):
    """Completion for one prompt box (see the module's note)."""

    def __init__(self, box: QPlainTextEdit):
        super().__init__(box)
        self.box = box
        self.loras: list[str] = []
        self.embeddings: list[str] = []
        self._kind = ""
        self._typed = ""
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setWidget(box)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self.insert)
        box.installEventFilter(self)
        box.textChanged.connect(self._text_changed)

    def set_names(self, loras: list[str], embeddings: list[str]) -> None:
        self.loras, self.embeddings = sorted(set(loras), key=str.lower), sorted(set(embeddings), key=str.lower)

    def eventFilter(self, watched, event) -> bool:
        """While the list is open, Enter, Tab and Esc are the list's (the completer acts on them), not the text's."""
        if (watched is self.box and event.type() == QEvent.Type.KeyPress and self.completer.popup().isVisible()
                and event.key() in KEYS_FOR_THE_POPUP):
            event.ignore()
            return True
        return False

    def _text_changed(self) -> None:
        cursor = self.box.textCursor()
        before = self.box.toPlainText()[:cursor.position()]
        found = completion_at(before[-200:], self.loras, self.embeddings) if self.box.hasFocus() else None
        if found is None:
            self.completer.popup().hide()
            return
        self._kind, self._typed, names = found
        self.model.setStringList(names)
        self.completer.setCompletionPrefix("")
        rect = self.box.cursorRect()
        rect.setWidth(max(160, self.completer.popup().sizeHintForColumn(0) + 24))
        self.completer.complete(rect)

    def offered(self) -> list[str]:
        return self.model.stringList()

    def insert(self, name: str) -> None:
        """Replace what was typed of the name with the whole completion."""
        cursor = self.box.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(self._typed))
        cursor.insertText(completed(self._kind, name))
        self.box.setTextCursor(cursor)
        self.completer.popup().hide()
