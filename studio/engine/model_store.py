"""Keeps the loaded base model between jobs: the same model for the next job (any task) loads nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from studio.engine.device import pick_device, pick_dtype
from studio.engine.loading import LoadedModel, load_model


class ModelStore:
    def __init__(self, device: torch.device | None = None, dtype: torch.dtype | None = None, allow_pickle: bool = False):
        self.device = device or pick_device()
        self.dtype = dtype or pick_dtype(self.device)
        self.allow_pickle = allow_pickle
        self._loaded: LoadedModel | None = None
        self._key: tuple | None = None
        self._lock = threading.Lock()

    def get(self, path: str | Path) -> LoadedModel:
        """The model at `path`, loaded once; loading another releases the previous one (GPU memory is finite)."""
        resolved = Path(path).expanduser().resolve()
        stat = resolved.stat() if resolved.exists() else None
        key = (str(resolved), stat.st_mtime_ns if stat else None, self.allow_pickle)
        with self._lock:
            if self._key != key:
                self._loaded = None
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                self._loaded = load_model(resolved, self.device, self.dtype, self.allow_pickle)
                self._key = key
            return self._loaded

    def release(self) -> None:
        with self._lock:
            self._loaded, self._key = None, None
