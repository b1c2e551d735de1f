"""Turning what the window shows into a job for the worker: a validated recipe whose paths point at files
that will exist (written by the worker), plus the arrays themselves so nothing is read back from disk.

A ControlNet unit whose control map the user made (and perhaps painted on) names that map, written to the session
folder, with preprocessor "none": the pipeline receives exactly the map shown. A unit without a map names its
preprocessor, which the engine runs on the picture."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Sequence

from studio.core.document import Document
from studio.core.errors import StudioError
from studio.core.layers import control_layer
from studio.core.recipe import parse_recipe
from studio.ui.control_panel import UnitChoice
from studio.ui.panels import TASKS_NEEDING_MASK, TASKS_USING_MASK
from studio.ui.session import SessionFolder
from studio.ui.worker import GenerateRequest

NO_MODEL = "Add a model first: a .safetensors checkpoint or a models folder (Model panel)."
NO_UPSCALER = ("Choose an upscaler first: add a Stable Diffusion checkpoint (it upscales too), or a ×4 upscaler "
               "(a diffusers folder such as stable-diffusion-x4-upscaler) with Add… in the Upscale panel.")
NO_CONTROLNET = "Add a ControlNet first: the ControlNet task needs at least one (Add ControlNet, then its model)."


class JobBuilder:
    def __init__(self, session: SessionFolder | None = None):
        self.session = session or SessionFolder()
        self._ids = itertools.count(1)
        self._written_picture: tuple[int, int, Path] | None = None  # (document id, picture serial, path)
        self._written_maps: dict[tuple[int, str], tuple[int, Path]] = {}  # (document id, layer) -> (serial, path)

    def build(self, document: Document | None, model: str | None, task: str,
              values: Callable[[], dict[str, Any]], units: Sequence[UnitChoice] = ()) -> GenerateRequest:
        """Check what the job needs first, then read the panels' `values()` (which may draw a new seed)."""
        if document is None:
            raise StudioError("Open a picture first: drop it on the window, paste it, or use File ▸ Open.")
        if not model:
            raise StudioError(NO_UPSCALER if task == "upscale" else NO_MODEL)
        painted = task in TASKS_USING_MASK and bool(document.mask.any())
        if task in TASKS_NEEDING_MASK and not painted:
            raise StudioError("The mask is empty: paint over the part of the picture that should change.")
        if task == "controlnet" and not units:
            raise StudioError(NO_CONTROLNET)
        for unit in units:
            if not unit.model:
                raise StudioError(f"ControlNet {unit.number} has no model: add a ControlNet checkpoint (its Add… button).")
        files = {}
        controlnets = [self._unit(document, unit, files) for unit in units]
        values = {**values(), "task": task}
        picture = document.picture.copy()
        image_path = self._picture_path(document, picture, files)
        mask, mask_path = None, None
        if painted:
            mask = document.mask.copy()
            mask_path = self.session.next_path("mask")
            files[mask_path] = mask
        recipe = parse_recipe({**values, "model": model, "image": image_path, "mask": str(mask_path) if mask_path else None,
                               "controlnets": controlnets})
        return GenerateRequest(next(self._ids), recipe, picture, mask, files)

    def _unit(self, document: Document, unit: UnitChoice, files: dict) -> dict[str, Any]:
        values = {"model": unit.model, "scale": unit.scale, "start": unit.start, "end": unit.end}
        layers = getattr(document, "layers", {})
        name = control_layer(unit.key)
        if name not in layers:
            return {**values, "preprocessor": unit.preprocessor, "params": dict(unit.params)}
        return {**values, "image": str(self._map_path(document, name, files)), "preprocessor": "none"}

    def _map_path(self, document, name: str, files: dict) -> Path:
        """The map as shown, written once per version of it."""
        key, serial = (document.uid, name), document.layer_serial(name)
        written = self._written_maps.get(key)
        if written is not None and written[0] == serial and written[1].exists():
            return written[1]
        path = self.session.next_path("control")
        files[path] = document.layers[name].copy()
        self._written_maps[key] = (serial, path)
        return path

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
