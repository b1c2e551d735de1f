"""Keeps the loaded base model between jobs: the same model for the next job (any task) loads nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from studio.engine.device import pick_device, pick_dtype
from studio.engine.loading import LoadedModel, load_model
from studio.engine.memory import choose_policy, lower_policy, model_bytes, release_cached_memory
from studio.engine.speed import release_compiled


class ModelStore:
    def __init__(self, device: torch.device | None = None, dtype: torch.dtype | None = None, allow_pickle: bool = False):
        self.device = device or pick_device()
        self.dtype = dtype or pick_dtype(self.device)
        self.allow_pickle = allow_pickle
        self._loaded: LoadedModel | None = None
        self._key: tuple | None = None
        self._controlnets: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def get(self, path: str | Path) -> LoadedModel:
        """The model at `path`, loaded once; loading another releases the previous one (GPU memory is finite)."""
        resolved = Path(path).expanduser().resolve()
        stat = resolved.stat() if resolved.exists() else None
        key = (str(resolved), stat.st_mtime_ns if stat else None, self.allow_pickle)
        with self._lock:
            if self._key != key:
                self._loaded, self._key = None, None  # a load that fails leaves no model behind, not a stale key
                self._controlnets.clear()
                release_compiled()  # engine/speed.py: the old model's compiled graphs and CUDA-graph memory
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                # load on the CPU, then decide what goes on the GPU: a model that does not fit never gets there
                loaded = load_model(resolved, torch.device("cpu"), self.dtype, self.allow_pickle)
                loaded.memory_policy = choose_policy(self.device, model_bytes(loaded.components))
                loaded.device = self.device
                if loaded.memory_policy == "gpu":
                    for module in loaded.components.values():
                        if isinstance(module, torch.nn.Module):
                            module.to(self.device)
                self._loaded, self._key = loaded, key
            return self._loaded

    def lower_memory_policy(self) -> str | None:
        """After an out-of-memory error: the next lower policy for the loaded model, or None at the bottom."""
        with self._lock:
            if self._loaded is None:
                return None
            lower = lower_policy(self._loaded.memory_policy)
            if lower is not None:
                self._loaded.memory_policy = lower
            release_cached_memory(self.device)
            return lower

    def controlnet(self, path: str | Path):
        """A ControlNet for the current base model, loaded once while that model stays."""
        from studio.engine.controlnet import load_controlnet

        resolved = Path(path).expanduser().resolve()
        key = (str(resolved), resolved.stat().st_mtime_ns if resolved.exists() else None)
        with self._lock:
            if self._loaded is None:
                raise RuntimeError("load a base model before its ControlNets")
            if key not in self._controlnets:
                self._controlnets[key] = load_controlnet(resolved, self._loaded)
            return self._controlnets[key]

    def release(self) -> None:
        with self._lock:
            self._loaded, self._key = None, None
            self._controlnets.clear()
