"""Python's cycle collector, run in the UI thread only.

Automatic collection runs in whichever thread happens to cross the allocation threshold, and the worker thread
allocates the most (every diffusion step). A collection there destroys any Qt object caught in a reference
cycle (a closed dialog, a lambda connected to a widget) from the wrong thread, which crashes Qt at random
later. So automatic collection is switched off and a UI-thread timer collects instead, generation by
generation against the interpreter's own thresholds: the pattern calibre and pyqtgraph use.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_EVERY_MS = 500


class GuiThreadGarbageCollector(QObject):
    """While it runs, cycles are collected in the UI thread's event loop and nowhere else."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_EVERY_MS):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        gc.disable()
        self.timer.start()

    def check(self) -> int:
        """Collect the generations past their thresholds, as the interpreter would have. Returns what was found."""
        counts = gc.get_count()
        generation = -1
        for level, (count, threshold) in enumerate(zip(counts, self.thresholds)):
            if threshold <= 0 or count <= threshold:  # a threshold of 0 means "never"; younger first, like gc
                break
            generation = level
        return gc.collect(generation) if generation >= 0 else 0

    def stop(self) -> None:
        """Back to automatic collection (as it was before), after a last collection here."""
        self.timer.stop()
        gc.collect()
        if self.was_enabled:
            gc.enable()


def collect_in_gui_thread(app: QObject) -> GuiThreadGarbageCollector:
    """Install the collector for the application's lifetime (it is the app's child, so it lives as long)."""
    existing = app.findChild(GuiThreadGarbageCollector)
    return existing if existing is not None else GuiThreadGarbageCollector(app)
