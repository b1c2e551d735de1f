"""Turning what the window shows into a job for the worker: a validated recipe whose paths point at files
that will exist (written by the worker), plus the arrays themselves so nothing is read back from disk."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable

from studio.core.document import Document
from studio.core.errors import StudioError
from studio.core.recipe import parse_recipe
from studio.ui.panels import TASKS_NEEDING_MASK, TASKS_USING_MASK
from studio.ui.session import SessionFolder
from studio.ui.worker import GenerateRequest


class JobBuilder:
    def __init__(self, session: SessionFolder | None = None):
        self.session = session or SessionFolder()
        self._ids = itertools.count(1)
        self._written_picture: tuple[int, int, Path] | None = None  # (document id, picture serial, path)

    def build(self, document: Document | None, model: str | None, task: str,
              values: Callable[[], dict[str, Any]]) -> GenerateRequest:
        """Check what the job needs first, then read the panels' `values()` (which may draw a new seed)."""
        if document is None:
            raise StudioError("Open a picture first: drop it on the window, paste it, or use File ▸ Open.")
        if not model:
            raise StudioError("Add a model first: a .safetensors checkpoint or a models folder (Model panel).")
        painted = task in TASKS_USING_MASK and bool(document.mask.any())
        if task in TASKS_NEEDING_MASK and not painted:
            raise StudioError("The mask is empty: paint over the part of the picture that should change.")
        values = {**values(), "task": task}
        files = {}
        picture = document.picture.copy()
        image_path = self._picture_path(document, picture, files)
        mask, mask_path = None, None
        if painted:
            mask = document.mask.copy()
            mask_path = self.session.next_path("mask")
            files[mask_path] = mask
        recipe = parse_recipe({**values, "model": model, "image": image_path, "mask": str(mask_path) if mask_path else None})
        return GenerateRequest(next(self._ids), recipe, picture, mask, files)

    def _picture_path(self, document: Document, picture, files: dict) -> str:
        """The picture's own file while it is unchanged; else a copy in the session folder, written once per version."""
        if document.picture_is_original and document.source is not None:
            return str(document.source)
        key = (document.uid, document.picture_serial)
        written = self._written_picture
        if written is not None and written[:2] == key and written[2].exists():
            return str(self._written_picture[2])
        path = self.session.next_path("picture")
        files[path] = picture
        self._written_picture = (*key, path)
        return str(path)
