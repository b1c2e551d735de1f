"""File ▸ Open recent: the last pictures opened (Settings.recent_pictures), newest first, filled each time the
menu opens; a file that is gone is shown disabled rather than failing when chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QMenu, QWidget

from studio.core.settings import Settings

SHORTCUT_DIGITS = 9  # &1 … &9


class RecentMenu(QMenu):
    def __init__(self, settings: Settings, open_picture: Callable[[str], object], parent: QWidget | None = None):
        super().__init__("Open &recent", parent)
        self.settings = settings
        self.open_picture = open_picture
        self.aboutToShow.connect(self.fill)
        self.fill()

    def fill(self) -> None:
        self.clear()
        paths = list(self.settings.recent_pictures)
        for number, path in enumerate(paths, start=1):
            name = Path(path).name
            label = f"&{number} {name}" if number <= SHORTCUT_DIGITS else name
            exists = Path(path).is_file()
            action = self.addAction(label if exists else f"{label} (missing)")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(exists)
            action.triggered.connect(lambda _=False, p=path: self.open_picture(p))
        if not paths:
            self.addAction("No pictures yet").setEnabled(False)
            return
        self.addSeparator()
        self.addAction("Clear the list").triggered.connect(self.clear_recent)

    def clear_recent(self) -> None:
        self.settings.recent_pictures = []
        self.fill()
