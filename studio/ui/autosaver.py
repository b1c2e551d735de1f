"""Autosave of the open document, so that a crash costs nothing: every change schedules a save after a short
quiet spell (and at least every half minute while the changes keep coming). The snapshot is taken on the UI thread
(copies of the arrays: cheap) and written on a thread of its own (PNG encoding is not), one write at a time: changes
made during a write are saved by one more write after it.

One Studio at a time owns the autosave folder (a lock file, freed when its process ends, even by a crash): a second
Studio neither offers the first one's snapshot back nor overwrites it. A clean quit discards the snapshot.
"""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QLockFile, QObject, QThreadPool, QTimer, Signal, Slot

from studio.core.autosave import Autosave, Snapshot

log = logging.getLogger(__name__)
DELAY_MS = 2000  # quiet time before a save
MAX_WAIT_MS = 30_000  # longest time a change waits while changes keep coming
LOCK = "lock"


class DocumentAutosave(QObject):
    saved = Signal()  # a snapshot is on disk (in the UI thread)
    failed = Signal(str)  # a save failed: the message, once until a save succeeds again

    _written = Signal(str)  # "" or the error, from the writing thread

    def __init__(self, snapshot: Callable[[], Snapshot | None], store: Autosave | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.snapshot = snapshot
        self.store = store or Autosave()
        self.delay_ms = DELAY_MS
        self.max_wait_ms = MAX_WAIT_MS
        self.owner = False  # this window holds the autosave folder's lock
        self.running = False  # saves are made (after start(), until stop())
        self.dirty = False  # a change waits to be saved
        self._writing = False
        self._again = False  # a save was asked for during a write
        self._failing = False
        self._lock: QLockFile | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._quiet = QTimer(self)
        self._quiet.setSingleShot(True)
        self._quiet.timeout.connect(self.save_now)
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.timeout.connect(self.save_now)
        self._written.connect(self._write_ended)

    # Owning the folder

    def claim(self) -> bool:
        """Take the autosave folder for this window; False when another Studio has it (or it cannot be made)."""
        if self.owner:
            return True
        try:
            self.store.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            log.warning("no autosave: %s", error)
            return False
        lock = QLockFile(str(self.store.root / LOCK))
        lock.setStaleLockTime(0)  # a live Studio's lock never goes stale; a dead one's is taken over
        if not lock.tryLock(0):
            return False
        self._lock, self.owner = lock, True
        return True

    def pending(self) -> bool:
        """A snapshot left by a Studio that did not quit cleanly (only its owner may say)."""
        return self.owner and self.store.pending()

    def load(self) -> Snapshot | None:
        return self.store.load() if self.owner else None

    # Saving

    def start(self) -> None:
        """Begin saving (after the recovery question, so the snapshot offered is never overwritten before)."""
        if not self.owner:
            return
        self.running = True
        if self.dirty:
            self.schedule()

    def schedule(self) -> None:
        """A change: save after `delay_ms` of quiet, and no later than `max_wait_ms` after the first unsaved change."""
        self.dirty = True
        if not self.running:
            return
        self._quiet.start(self.delay_ms)
        if not self._deadline.isActive() or self._deadline.remainingTime() > self.max_wait_ms:
            self._deadline.start(self.max_wait_ms)

    @Slot()
    def save_now(self) -> bool:
        """Take the snapshot now and write it in the background; False when there is nothing to save."""
        self._quiet.stop()
        self._deadline.stop()
        if not self.running:
            return False
        if self._writing:
            self._again = True
            return True
        self.dirty = False
        try:
            snapshot = self.snapshot()
        except Exception:  # noqa: BLE001: an autosave must never break the window
            log.exception("autosave snapshot failed")
            return False
        if snapshot is None:
            return False
        self._writing = True
        self._pool.start(lambda: self._write(snapshot))
        return True

    def _write(self, snapshot: Snapshot) -> None:  # in the writing thread
        try:
            self.store.save(snapshot)
        except BaseException as error:  # noqa: BLE001: reported; the next change tries again
            log.exception("autosave failed")
            self._written.emit(f"{type(error).__name__}: {error}")
        else:
            self._written.emit("")

    @Slot(str)
    def _write_ended(self, error: str) -> None:
        self._writing = False
        if error and not self._failing:
            self.failed.emit(f"Autosave failed ({error}); your work is not protected against a crash until it works.")
        self._failing = bool(error)
        if not error:
            self.saved.emit()
        if self._again and self.running:
            self._again = False
            self.save_now()

    @property
    def writing(self) -> bool:
        """A write is under way (or its end not yet seen by the UI thread)."""
        return self._writing

    def wait(self) -> None:
        """Until the write under way (if any) is on disk."""
        self._pool.waitForDone()

    # Ending

    def stop(self) -> None:
        """No more saves (the window is closing); what is on disk stays."""
        self.running = False
        self._again = False
        self._quiet.stop()
        self._deadline.stop()

    def discard(self) -> None:
        """A clean quit, or recovery declined: nothing is left to offer back."""
        if not self.owner:
            return
        running = self.running
        self.stop()
        self.wait()
        self.store.discard()
        self.dirty = False
        self.running = running

    def release(self) -> None:
        """Stop and give the folder up, leaving the snapshot: what a crash leaves (the lock of a dead process is
        taken over by the next Studio)."""
        self.stop()
        self.wait()
        if self._lock is not None:
            self._lock.unlock()
        self._lock, self.owner = None, False
