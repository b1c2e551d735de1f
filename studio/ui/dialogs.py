"""File dialogs. Each returns a path or None; the window's own methods take paths, so tests skip the dialogs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.safetensors);;Pickle checkpoints (*.ckpt *.pt);;All files (*)"
PNG_FILTER = "PNG pictures (*.png)"


def _start(folder: str | None) -> str:
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def ask_picture(parent: QWidget, folder: str | None) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open a picture", _start(folder), PICTURE_FILTER)
    return Path(path) if path else None


def ask_checkpoint(parent: QWidget, folder: str | None) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Add a checkpoint", _start(folder), CHECKPOINT_FILTER)
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
