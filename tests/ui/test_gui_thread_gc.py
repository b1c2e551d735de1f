"""Reference cycles are collected in the UI thread only: a worker thread allocating heavily never runs the
collector, so it can never destroy a Qt object from the wrong thread."""

from __future__ import annotations

import gc
import threading

from studio.ui.app import create_application
from studio.ui.gui_thread_gc import GuiThreadGarbageCollector


CYCLES = 2000


class Cycle:
    """Refers to itself, so only the cycle collector frees it; says in which thread that happened."""

    freed_in: list[str] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        Cycle.freed_in.append(threading.current_thread().name)


def test_cycles_made_in_a_worker_thread_are_freed_by_the_ui_thread(qtbot, gui_thread_gc):
    Cycle.freed_in.clear()

    def allocate():
        for _ in range(CYCLES):  # past the youngest generation's threshold: automatic collection would run here
            Cycle()

    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert not gc.isenabled()
    assert "worker" not in Cycle.freed_in
    qtbot.waitUntil(lambda: len(Cycle.freed_in) == CYCLES, timeout=5000)  # the UI thread's timer collected them
    assert set(Cycle.freed_in) == {threading.main_thread().name}


def test_the_app_installs_one_collector(qapp):
    create_application([])
    create_application([])
    assert len(qapp.findChildren(GuiThreadGarbageCollector)) == 1


def test_stopping_the_collector_restores_automatic_collection(qapp):
    assert not gc.isenabled()
    collector = GuiThreadGarbageCollector()
    collector.stop()
    assert gc.isenabled() is False, "it was off when this one started (the session's collector runs)"
    gc.enable()
    try:
        collector = GuiThreadGarbageCollector()
        assert not gc.isenabled()
        collector.stop()
        assert gc.isenabled()
    finally:
        gc.disable()  # the session's collector still runs
