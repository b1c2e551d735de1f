"""The plugin manager: every sampler and guidance plugin with its version, origin and status; enable, disable,
install (a wheel or a project folder) and remove. It uses the same torch-free functions as `studio plugins`;
errors are one line in the dialog, never a traceback. After each change the registry is read again and
`plugins_changed` tells the panels to fill their lists again. Installing runs pip, which can take a while: it
runs on a background thread and the dialog says so, so the window never freezes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from studio import plugins
from studio.core.errors import StudioError

COLUMNS = ("Name", "Kind", "Version", "Origin", "Status")
PROTECTED = ("guidance:cfg",)  # the default guidance cannot be disabled
REMOVABLE_ORIGINS = ("user", "installed")  # "installed" ones answer with how to pip uninstall them


class PluginManagerDialog(QDialog):
    plugins_changed = Signal()
    install_finished = Signal(bool)  # an installation ended (True: installed), on the UI thread
    _installed = Signal(object, object)  # from the installing thread: (result, error message or None)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.resize(760, 480)
        self.infos: list = []
        # Injectable for tests: where to install from ("wheel" or "folder" → a path or None), and a yes/no question.
        self.ask_path: Callable[[str], str | None] = self._ask_path
        self.confirm: Callable[[str], bool] = self._confirm

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.description = QPlainTextEdit()
        self.description.setReadOnly(True)
        self.description.setMaximumHeight(120)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.enable_button = QPushButton("Enable")
        self.disable_button = QPushButton("Disable")
        self.install_button = QPushButton("Install…")
        self.remove_button = QPushButton("Remove")
        close = QPushButton("Close")
        menu = QMenu(self.install_button)
        self.install_wheel = QAction("From a wheel file…", self)
        self.install_folder = QAction("From a project folder…", self)
        menu.addAction(self.install_wheel)
        menu.addAction(self.install_folder)
        self.install_button.setMenu(menu)
        self.install_button.setToolTip("Install a plugin into your plugins folder (offline; its dependencies must "
                                       "already be in Studio's environment)")

        buttons = QHBoxLayout()
        for button in (self.enable_button, self.disable_button, self.install_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.description)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.table.itemSelectionChanged.connect(self._show_selected)
        self.enable_button.clicked.connect(self.enable_selected)
        self.disable_button.clicked.connect(self.disable_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.install_wheel.triggered.connect(lambda: self._ask_and_install("wheel"))
        self.install_folder.triggered.connect(lambda: self._ask_and_install("folder"))
        close.clicked.connect(self.close)
        self._installed.connect(self._install_ended)  # queued: emitted on the installing thread
        self.installing = False
        self.reload()

    # The list

    def reload(self) -> None:
        selected = self.selected.key if self.selected else None
        try:
            self.infos = plugins.list_plugins()
        except StudioError as error:
            self.infos = []
            self.show_error(str(error))
        self.table.setRowCount(len(self.infos))
        for row, info in enumerate(self.infos):
            cells = (info.name, info.kind, info.version, info.origin, info.status)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(str(text or ""))
                item.setToolTip(info.label if column == 0 else str(text or ""))
                self.table.setItem(row, column, item)
        row = self.row_of(selected) if selected else -1
        if row >= 0:
            self.table.selectRow(row)
        self._show_selected()

    def row_of(self, key: str) -> int:
        """The row of "kind:name" (or of a plugin name), -1 when it is not listed."""
        for row, info in enumerate(self.infos):
            if key in (info.key, info.name):
                return row
        return -1

    def select(self, key: str) -> bool:
        row = self.row_of(key)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    @property
    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.infos[rows[0].row()] if rows and rows[0].row() < len(self.infos) else None

    def _show_selected(self) -> None:
        info, idle = self.selected, not self.installing
        self.enable_button.setEnabled(idle and bool(info) and not info.enabled)
        self.disable_button.setEnabled(idle and bool(info) and info.enabled and info.key not in PROTECTED)
        self.remove_button.setEnabled(idle and bool(info) and info.origin in REMOVABLE_ORIGINS)
        self.install_button.setEnabled(idle)
        self.description.setPlainText(describe(info) if info else "")

    # Changes

    def enable_selected(self) -> bool:
        info = self.selected
        return bool(info) and self._change(lambda: plugins.enable_plugin(info.key), f"Enabled {info.name}.")

    def disable_selected(self) -> bool:
        info = self.selected
        return bool(info) and self._change(lambda: plugins.disable_plugin(info.key), f"Disabled {info.name}.")

    def remove_selected(self) -> bool:
        info = self.selected
        if not info:
            return False
        target = info.distribution or info.key
        if not self.confirm(f"Remove {target}? Every plugin it provides goes with it."):
            return False
        return self._change(lambda: plugins.remove_plugin(target), f"Removed {target}.")

    def install(self, path: str | Path) -> bool:
        """Start installing a wheel or a project folder on a background thread; `install_finished` tells when it
        ended, and the result's notices (missing dependencies...) are shown. False when one is already running."""
        if self.installing:
            return False
        self.installing = True
        self._show_selected()
        self.show_info(f"Installing {Path(path).name}…")

        def run():
            try:
                self._installed.emit(plugins.install_plugin(path), None)
            except (StudioError, OSError) as error:  # PluginError is a StudioError: one line, no traceback
                self._installed.emit(None, str(error))
            except Exception as error:  # anything else must still end the installation in the dialog
                self._installed.emit(None, f"installation failed: {error}")

        threading.Thread(target=run, name="plugin-install", daemon=True).start()
        return True

    def _install_ended(self, result, error: str | None) -> None:
        self.installing = False
        if error is not None:
            self.show_error(error)
            self.reload()
            self.install_finished.emit(False)
            return
        self._changed("")
        names = ", ".join(p.name for p in result.plugins) or "no plugins"
        notices = " ".join(result.notices)
        self.show_info(f"Installed {result.distribution} {result.version}: {names}. {notices}".strip())
        if result.plugins:
            self.select(result.plugins[0].key)
        self.install_finished.emit(True)

    def _ask_and_install(self, kind: str) -> None:
        path = self.ask_path(kind)
        if path:
            self.install(path)

    def _change(self, action: Callable, done_message: str) -> bool:
        try:
            action()
        except (StudioError, OSError) as error:  # PluginError is a StudioError: one line, no traceback
            self.show_error(str(error))
            self.reload()
            return False
        self._changed(done_message)
        return True

    def _changed(self, done_message: str) -> None:
        """After a change: read the registry again, show the list, tell the panels."""
        try:
            plugins.refresh_plugins()
        except StudioError as error:
            self.show_error(str(error))
        self.reload()
        if done_message:
            self.show_info(done_message)
        self.plugins_changed.emit()

    # Messages and questions

    def show_error(self, text: str) -> None:
        self.message.setStyleSheet("color: #e0564a;")
        self.message.setText(text)
        self.message.show()

    def show_info(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)
        self.message.show()

    @property
    def message_text(self) -> str:
        return self.message.text() if not self.message.isHidden() else ""

    def _ask_path(self, kind: str) -> str | None:
        if kind == "folder":
            return QFileDialog.getExistingDirectory(self, "Plugin project folder (with a pyproject.toml)") or None
        path, _ = QFileDialog.getOpenFileName(self, "Plugin wheel", "", "Python wheels (*.whl);;All files (*)")
        return path or None

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Remove plugin", text)
        return answer == QMessageBox.StandardButton.Yes


def describe(info) -> str:
    lines = [f"{info.label} ({info.kind} '{info.name}', {info.origin})"]
    if info.description:
        lines.append(info.description)
    if info.distribution:
        version = f" {info.version}" if info.version else ""
        lines.append(f"Distribution: {info.distribution}{version}" + (f" — {info.location}" if info.location else ""))
    if info.parameters:
        lines.append("Parameters: " + ", ".join(f"{p.title} ({p.type}, default {p.default})" for p in info.parameters))
    if info.status != "enabled":
        lines.append(f"Status: {info.status}")
    return "\n".join(lines)


def open_plugin_manager(window) -> PluginManagerDialog:
    """Show the window's plugin manager (one per window); its changes reload the panels' lists."""
    dialog = getattr(window, "plugin_manager_dialog", None)
    if dialog is None:
        dialog = PluginManagerDialog(window)
        dialog.plugins_changed.connect(window.recipe_panel.reload_plugins)
        window.plugin_manager_dialog = dialog
    else:
        dialog.reload()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def show_recipe_notices(window) -> None:
    """The panels' notices (a restored recipe's plugin that is not here) in the window's message bar, added to
    the "Recipe restored" message the window shows just after."""
    def show(text: str) -> None:
        from studio.ui.messages import WARNING

        current = window.message_bar.text
        window.show_message(f"{current} {text}" if current and text not in current else text, WARNING)

    window.recipe_panel.notice.connect(lambda text: QTimer.singleShot(0, lambda: show(text)))
