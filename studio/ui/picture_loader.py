"""Opening pictures without freezing the window: a large picture is decoded on a background thread, a small
one at once (no flicker, and nothing to wait for). The last picture asked for wins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from studio.core.errors import StudioError
from studio.core.images import load_image
from studio.core.metadata import ResultMetadata, read_metadata, read_parameters

INSTANT_PIXELS = 12_000_000  # up to about 4000×3000, decoding takes a blink


@dataclass
class OpenedPicture:
    path: Path
    pixels: np.ndarray
    metadata: ResultMetadata | None  # the recipe of a PNG Studio exported
    parameters: str | None = None  # another program's AUTOMATIC1111-style settings text, when there is no recipe


def studio_metadata(path: Path) -> ResultMetadata | None:
    """The recipe inside a PNG made by Studio, or None; a damaged recipe is treated as none."""
    if path.suffix.lower() != ".png":
        return None
    try:
        return read_metadata(path)
    except StudioError:
        return None


def a1111_text(path: Path) -> str | None:
    """The `parameters` text (PNG chunk, or EXIF UserComment of a JPEG or WebP), or None."""
    try:
        text = read_parameters(path)
    except Exception:  # noqa: BLE001: a picture with unreadable metadata opens without it
        return None
    return text if isinstance(text, str) and text.strip() else None


def read_picture(path: Path) -> OpenedPicture:
    try:
        pixels, metadata = load_image(path), studio_metadata(path)
        return OpenedPicture(path, pixels, metadata, None if metadata is not None else a1111_text(path))
    except MemoryError:
        raise StudioError(f"{path.name} is too large to open in the memory available.") from None


def pixel_count(path: Path) -> int:
    """Width × height from the file's header, without decoding it (0 when unreadable: the load will say why)."""
    try:
        with Image.open(path) as image:
            return image.width * image.height
    except Exception:  # noqa: BLE001: any unreadable file is reported by the real load
        return 0


class PictureLoader(QObject):
    opened = Signal(object)  # OpenedPicture
    failed = Signal(object, str)  # path, message
    busy = Signal(bool)

    _finished = Signal(int, object, object, str)  # token, path, OpenedPicture or None, error

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.instant_pixels = INSTANT_PIXELS
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._latest = 0
        self._finished.connect(self._deliver)

    def open(self, path: str | Path) -> bool:
        """Open now if small (True when it worked), else start in the background (True: it is on its way)."""
        path = Path(path)
        self._latest += 1
        token = self._latest
        if pixel_count(path) <= self.instant_pixels:
            return self._read(token, path)
        self.busy.emit(True)
        self.pool.start(lambda: self._read(token, path))
        return True

    def _read(self, token: int, path: Path) -> bool:
        try:
            picture = read_picture(path)
        except StudioError as error:
            self._finished.emit(token, path, None, str(error))
            return False
        self._finished.emit(token, path, picture, "")
        return True

    @Slot(int, object, object, str)
    def _deliver(self, token: int, path: Path, picture: OpenedPicture | None, error: str) -> None:
        if token != self._latest:
            return  # another picture was asked for meanwhile
        self.busy.emit(False)
        if picture is None:
            self.failed.emit(path, error)
        else:
            self.opened.emit(picture)

    def wait(self) -> None:
        self.pool.waitForDone()
