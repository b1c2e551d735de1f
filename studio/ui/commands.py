"""The window's commands: every menu entry, toolbar button and shortcut, in one place.

Shortcuts follow Krita and Photoshop: B brush, E eraser, M rectangle, L lasso, P colour brush, X swap, [ and ] size, { and }
hardness, Ctrl+Z and Ctrl+Shift+Z undo and redo, space-drag to pan. They are window-wide, but a focused text field keeps the keys it
types (Qt's shortcut override), so writing "[cabin]" in the prompt never resizes the brush.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QToolBar

from studio.core.brush import bigger, smaller
from studio.ui.expand_canvas import ask_expand_canvas
from studio.ui.new_canvas import ask_new_canvas
from studio.ui.recent_menu import RecentMenu
from studio.ui.plugin_manager import open_plugin_manager, show_recipe_notices
from studio.ui.theme import icon

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

SEPARATOR = None


class Commands:
    def __init__(self, window: "MainWindow"):
        self.window = window
        w = window
        a = self._action
        self.open = a("&Open picture…", w.ask_open_picture, [QKeySequence.StandardKey.Open], icon_name="open")
        self.new_canvas = a("&New canvas…", lambda: ask_new_canvas(w), [QKeySequence.StandardKey.New],
                            "A blank picture, all masked, to generate from the prompt alone (Ctrl+N)")
        self.paste = a("&Paste picture", w.paste_picture, [QKeySequence.StandardKey.Paste])
        self.paste_parameters = a("Paste &generation parameters", w.paste_parameters, ["Ctrl+Alt+V"],
                                  "Prompt, seed, steps, sampler… from AUTOMATIC1111's text on the clipboard (Ctrl+Alt+V)")
        self.export = a("&Export result…", lambda: w.ask_export_result(w.results.selected), ["Ctrl+E"])
        self.batch_export = a("&Batch export…", w.batches.ask_batch_export, ["Ctrl+Shift+E"],
                              "Variations and parameter sweeps, exported to a folder (Ctrl+Shift+E)")
        self.open_batch = a("Open batch f&older…", w.batches.ask_open_folder)
        self.keep_results = a("&Keep every result", w.set_keep_results, (),
                              "Also write each result, with its recipe, to the outputs folder (one folder a day)")
        self.keep_results.setCheckable(True)
        self.keep_results.setChecked(w.settings.keep_results)
        self.open_outputs = a("Open o&utputs folder", w.open_outputs_folder, (),
                              "The folder every result is kept in, with its recipe")
        self.add_checkpoint = a("Add &checkpoint…", w.models.ask_add_checkpoint)
        self.add_folder = a("Add models &folder…", w.models.ask_add_folder)
        self.rescan = a("&Rescan models", w.models.refresh)
        self.quit = a("&Quit", w.close, [QKeySequence.StandardKey.Quit])
        self.undo = a("&Undo", w.undo, ["Ctrl+Z"], icon_name="undo")
        self.redo = a("&Redo", w.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], icon_name="redo")
        self.invert_mask = a("&Invert mask", w.invert_mask, ["Ctrl+I"], icon_name="invert")
        self.clear_mask = a("&Clear mask", w.clear_mask, ["Delete"], icon_name="clear")
        self.fill_mask = a("&Fill mask", w.fill_mask, ["Shift+Delete"])
        self.expand_canvas = a("E&xpand canvas…", lambda: ask_expand_canvas(w), ["Ctrl+Alt+C"],
                               "Add space around the picture, masked, for Inpaint to fill (outpainting; Ctrl+Alt+C)")
        self.plugins = a("&Plugins…", lambda: open_plugin_manager(w), (),
                         "Samplers and guidance types: install, enable, disable, remove")
        show_recipe_notices(w)
        self.brush = a("&Brush", lambda: w.set_erasing(False), ["B"], "Paint the mask (B)", "brush")
        self.eraser = a("&Eraser", lambda: w.set_erasing(True), ["E"], "Erase the mask (E)", "eraser")
        self.colour_brush = a("&Colour brush", w.set_colour_brush, ["P"],
                              "Paint on the picture itself, a sketch for SDEdit or Inpaint to turn into detail; "
                              "Ctrl+click takes a colour from the picture (P)", "colour")
        self.rectangle = a("&Rectangle", lambda: w.set_shape_tool("rectangle"), ["M"],
                           "Drag a rectangle into the mask; Alt-drag takes it out (M)", "rectangle")
        self.lasso = a("&Lasso", lambda: w.set_shape_tool("lasso"), ["L"],
                       "Draw round an area to add it to the mask; Alt takes it out (L)", "lasso")
        self.swap_tool = a("Swap brush and eraser", lambda: w.set_erasing(not w.canvas.erasing), ["X"])
        self.bigger = a("Bigger brush", lambda: w.resize_brush(bigger), ["]"])
        self.smaller = a("Smaller brush", lambda: w.resize_brush(smaller), ["["])
        self.harder = a("Harder brush", lambda: w.change_hardness(+0.1), ["}"])
        self.softer = a("Softer brush", lambda: w.change_hardness(-0.1), ["{"])
        self.fit = a("&Fit to window", w.canvas.fit_to_window, ["Ctrl+0"], icon_name="fit")
        self.actual_size = a("&Actual pixels (100%)", w.canvas.actual_size, ["Ctrl+1"])
        self.zoom_in = a("Zoom &in", lambda: w.canvas.zoom_by(1.25), ["Ctrl++", "Ctrl+="])
        self.zoom_out = a("Zoom &out", lambda: w.canvas.zoom_by(0.8), ["Ctrl+-"])
        self.show_mask = a("Show &mask", w.set_mask_visible, ["Ctrl+H"])
        self.generate = a("&Generate", w.jobs.generate_or_cancel, ["Ctrl+Return", "Ctrl+Enter"])
        self.cancel = a("&Cancel job", w.jobs.cancel, ["Escape"])
        self.apply = a("&Apply result", lambda: w.apply_result(w.results.selected), ["Ctrl+Shift+Return"])
        self._make_tools_exclusive()
        self.show_mask.setCheckable(True)
        self.show_mask.setChecked(True)

    def _action(self, text: str, slot, shortcuts=(), tip: str = "", icon_name: str | None = None) -> QAction:
        action = QAction(text, self.window)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if icon_name:
            action.setIcon(icon(icon_name))
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    def _make_tools_exclusive(self) -> None:
        group = QActionGroup(self.window)
        for tool in (self.brush, self.eraser, self.rectangle, self.lasso, self.colour_brush):
            tool.setCheckable(True)
            group.addAction(tool)
        self.brush.setChecked(True)

    def install_menus(self) -> None:
        menus = {
            "&File": [self.new_canvas, self.open, self.paste, self.export, SEPARATOR, self.batch_export, self.open_batch, SEPARATOR,
                      self.keep_results, self.open_outputs, SEPARATOR,
                      self.add_checkpoint, self.add_folder, self.rescan, SEPARATOR, self.quit],
            "&Edit": [self.undo, self.redo, SEPARATOR, self.paste_parameters, SEPARATOR, self.invert_mask, self.clear_mask, self.fill_mask, SEPARATOR,
                      self.expand_canvas, SEPARATOR, self.plugins],
            "&Brush": [self.brush, self.eraser, self.rectangle, self.lasso, self.colour_brush, self.swap_tool, SEPARATOR, self.bigger, self.smaller, self.harder, self.softer],
            "&View": [self.fit, self.actual_size, self.zoom_in, self.zoom_out, SEPARATOR, self.show_mask],
            "&Job": [self.generate, self.cancel, self.apply],
        }
        for title, actions in menus.items():
            menu = self.window.menuBar().addMenu(title)
            for action in actions:
                menu.addSeparator() if action is SEPARATOR else menu.addAction(action)
                if action is self.open:
                    self.recent = RecentMenu(self.window.settings, self.window.open_picture, menu)
                    menu.addMenu(self.recent)

    def install_toolbars(self, options) -> None:
        """A toolbox down the left, as in Krita and Photoshop, and the brush's options bar along the top."""
        tools = QToolBar("Tools")
        tools.setObjectName("toolsBar")
        tools.setMovable(False)
        for action in (self.open, SEPARATOR, self.brush, self.eraser, self.rectangle, self.lasso, self.colour_brush,
                       SEPARATOR, self.undo, self.redo, SEPARATOR,
                       self.invert_mask, self.clear_mask, SEPARATOR, self.fit):
            tools.addSeparator() if action is SEPARATOR else tools.addAction(action)
        self.window.addToolBar(Qt.ToolBarArea.LeftToolBarArea, tools)
        bar = QToolBar("Brush options")
        bar.setObjectName("brushOptionsBar")
        bar.setMovable(False)
        bar.addWidget(options)
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
