"""sha256 of model files, cached by path, size and modification time (hashing a 6 GB checkpoint takes seconds)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from platformdirs import user_cache_dir

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth")
_lock = threading.Lock()


def _cache_file() -> Path:
    return Path(os.environ.get("STUDIO_CACHE_DIR") or user_cache_dir("studio")) / "model-hashes.json"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _cached_file_sha256(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    cache_path = _cache_file()
    with _lock:
        try:
            cache = json.loads(cache_path.read_text())
        except (OSError, ValueError):
            cache = {}
        if key in cache:
            return cache[key]
    value = _file_sha256(path)
    with _lock:
        cache[key] = value
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache_path.with_suffix(".part")
            temporary.write_text(json.dumps(cache))
            os.replace(temporary, cache_path)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return value


def model_hash(path: str | Path) -> str:
    """sha256 of a checkpoint file (its first 10 hex digits are AUTOMATIC1111's "Model hash"), or, for a
    diffusers folder, the sha256 of the sorted (relative path, file sha256) list of its weight files."""
    path = Path(path)
    if path.is_file():
        return _cached_file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}:{_cached_file_sha256(file)}\n".encode())
    return digest.hexdigest()
