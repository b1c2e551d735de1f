"""`studio` (the window): a QApplication, the theme, the main window. Nothing here imports torch: the
engine is imported by the worker thread when the first model is loaded, after the window is shown."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication

import studio
from studio.ui.gui_thread_gc import collect_in_gui_thread
from studio.ui.main_window import MainWindow
from studio.ui.messages import ERROR
from studio.ui.theme import apply_theme, icon

log = logging.getLogger("studio")


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv[:1]))
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setApplicationVersion(studio.__version__)
    app.setWindowIcon(icon("studio"))
    apply_theme(app)
    collect_in_gui_thread(app)  # the worker thread must never destroy a Qt object
    return app


class _ErrorRelay(QObject):
    """Carries a message from whatever thread hit the error to the window, in the UI thread."""

    message = Signal(str)


def _keep_alive_on_errors(window: MainWindow):
    """An unexpected error becomes a message in the window instead of ending the app: errors escaping a slot or a
    Qt callback in any thread (sys.excepthook, which Qt's Python bindings call from the thread that raised) and
    errors ending a Python thread (threading.excepthook). Returns the hook."""
    relay = _ErrorRelay()
    relay.message.connect(lambda text: _show(window, text), Qt.ConnectionType.QueuedConnection)
    window._error_relay = relay  # kept alive with the window

    def hook(kind, error, trace):
        try:
            log.error("unexpected error\n%s", "".join(traceback.format_exception(kind, error, trace)))
            try:
                what = f"{kind.__name__}: {error}" if str(error) else kind.__name__
            except Exception:  # noqa: BLE001
                what = kind.__name__
            relay.message.emit(f"Something went wrong ({what}). Your picture and mask are kept.")
        except Exception:  # noqa: BLE001: the hook itself must never fail
            pass

    def thread_hook(args):
        if args.exc_type is SystemExit:  # a thread ending itself on purpose, as Python's own hook treats it
            return
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
    return hook


def _show(window: MainWindow, text: str) -> None:
    try:
        window.show_message(text, ERROR)
    except RuntimeError:  # the window is already gone
        pass


def main(argv: list[str] | None = None, pictures: list | tuple = ()) -> int:
    logging.basicConfig(level=logging.INFO, format="studio: %(message)s")
    app = create_application(argv)
    app.setDesktopFileName("studio")  # Wayland matches the window to the installer's .desktop entry
    window = MainWindow()
    _keep_alive_on_errors(window)
    window.show()
    restored = window.offer_recovery()  # after a crash: the work autosaved, before anything replaces it
    if restored and pictures:
        names = ", ".join(Path(picture).name for picture in pictures)
        window.show_message(f"Your autosaved work was restored; {names} was not opened (open it when you want it).")
    elif pictures:
        for picture in pictures:  # "Open with Studio" from a file manager
            window.open_picture(picture)
    return app.exec()
