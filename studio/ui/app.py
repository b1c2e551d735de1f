"""`studio` (the window): a QApplication, the theme, the main window. Nothing here imports torch: the
engine is imported by the worker thread when the first model is loaded, after the window is shown."""

from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtWidgets import QApplication

import studio
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
    return app


def _keep_alive_on_errors(window: MainWindow) -> None:
    """An unexpected error in a slot becomes a message in the window instead of ending the app."""

    def hook(kind, error, trace):
        log.error("unexpected error\n%s", "".join(traceback.format_exception(kind, error, trace)))
        try:
            window.show_message(f"Something went wrong ({kind.__name__}: {error}). Your picture and mask are kept.", ERROR)
        except RuntimeError:  # the window is already gone
            pass

    sys.excepthook = hook


def main(argv: list[str] | None = None, pictures: list | tuple = ()) -> int:
    logging.basicConfig(level=logging.INFO, format="studio: %(message)s")
    app = create_application(argv)
    app.setDesktopFileName("studio")  # Wayland matches the window to the installer's .desktop entry
    window = MainWindow()
    _keep_alive_on_errors(window)
    window.show()
    for picture in pictures:  # "Open with Studio" from a file manager
        window.open_picture(picture)
    return app.exec()
