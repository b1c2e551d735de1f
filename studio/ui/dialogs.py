"""File dialogs and questions. Each returns a path (or None) or an answer; the window's own methods take paths
and answers, so tests skip the dialogs."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.safetensors);;Pickle checkpoints (*.ckpt *.pt);;All files (*)"
LORA_FILTER = "LoRAs (*.safetensors)"  # pickled LoRAs can run code when loaded: not offered
PNG_FILTER = "PNG pictures (*.png)"


def _start(folder: str | None) -> str:
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def ask_picture(parent: QWidget, folder: str | None) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open a picture", _start(folder), PICTURE_FILTER)
    return Path(path) if path else None


def ask_checkpoint(parent: QWidget, folder: str | None) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Add a checkpoint", _start(folder), CHECKPOINT_FILTER)
    return Path(path) if path else None


def ask_lora(parent: QWidget, folder: str | None) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Add a LoRA", _start(folder), LORA_FILTER)
    return Path(path) if path else None


def ask_models_folder(parent: QWidget, folder: str | None) -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, "Add a models folder (or a diffusers model folder)", _start(folder))
    return Path(path) if path else None


def ask_export_path(parent: QWidget, folder: str | None, name: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, "Export result", str(Path(_start(folder)) / name), PNG_FILTER)
    if not path:
        return None
    path = Path(path)
    return path if path.suffix.lower() == ".png" else path.with_suffix(path.suffix + ".png")


def ask_style_name(parent: QWidget, proposed: str) -> str | None:
    """The name to save the prompts under as a style, or None."""
    name, ok = QInputDialog.getText(parent, "Save prompts as a style", "Style name:", text=proposed)
    return name.strip() if ok and name.strip() else None


def saved_time(saved_at: float, now: float | None = None) -> str:
    """HH:MM, with the day when it was not today."""
    saved, today = time.localtime(saved_at), time.localtime(now if now is not None else time.time())
    if saved[:3] == today[:3]:
        return time.strftime("%H:%M", saved)
    return time.strftime("%H:%M on %d %b %Y", saved)


def ask_recovery(parent: QWidget, saved_at: float) -> bool:
    """After a crash: True to restore the autosaved work, False to discard it. Closing the question without an
    answer restores: only Discard throws the work away."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Restore your work?")
    box.setText(f"Studio closed unexpectedly. Restore your picture, mask, layers and results from {saved_time(saved_at)}?")
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(restore)
    box.setEscapeButton(restore)
    box.exec()
    return box.clickedButton() is not discard
