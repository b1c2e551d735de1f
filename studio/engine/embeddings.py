"""Textual-inversion embeddings: their vectors, one set per text encoder of the pipeline, checked against it.

Nothing is added to the tokenizer or the text encoder (diffusers' `load_textual_inversion` would add the name as
a token for good, so a later prompt holding that word, or a word containing it, would change with what was loaded
before). Instead engine/prompt_embeds.py puts the vectors in place of the name's tokens while it encodes the job's
prompts, as AUTOMATIC1111 does; a job that names no embedding encodes exactly as before.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from studio.core.checkpoints import EMBEDDING_WIDTHS, MADE_FOR_LABELS, SDXL_EMBEDDING_KEYS, embedding_family
from studio.core.errors import ModelError
from studio.core.recipe import EmbeddingRef

MAX_CACHED = 64  # embeddings are a few KB: keep the recently used ones read
_READ: OrderedDict = OrderedDict()  # (path, size, mtime) → {key: tensor}


def embedding_hashes(embeddings: Sequence[EmbeddingRef]) -> dict[str, str]:
    """The sha256 of each embedding file, as `embeddingN` entries of a result's hashes."""
    from studio.core.hashing import model_hash

    return {f"embedding{index}": model_hash(embedding.path) for index, embedding in enumerate(embeddings)}


def embedding_vectors(encoders: Sequence, embeddings: Sequence[EmbeddingRef]) -> dict[str, list[torch.Tensor]]:
    """Name (lower case) → one [vectors, width] tensor per text encoder in `encoders` (SD: one; SDXL: two)."""
    widths = [encoder.get_input_embeddings().embedding_dim for encoder in encoders]
    return {embedding.name.lower(): _fitted(embedding, _read(embedding.path), widths) for embedding in embeddings}


def _read(path: str) -> dict[str, torch.Tensor]:
    file = Path(path).expanduser()
    try:
        stat = file.stat()
    except OSError:
        raise ModelError(f"embedding file not found: {path}") from None
    key = (str(file), stat.st_size, stat.st_mtime_ns)
    if key in _READ:
        _READ.move_to_end(key)
        return _READ[key]
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"cannot read the embedding {file.name}: damaged or not a safetensors file ({error})") from None
    if embedding_family({name: tuple(t.shape) for name, t in tensors.items()}) is False:
        raise ModelError(f"{file.name} is not a textual-inversion embedding (AUTOMATIC1111's emb_params, SDXL's "
                         "clip_l and clip_g, or one diffusers token)")
    _READ[key] = {name: (t if t.dim() == 2 else t.unsqueeze(0)).float() for name, t in tensors.items()}
    while len(_READ) > MAX_CACHED:
        _READ.popitem(last=False)
    return _READ[key]


def _fitted(embedding: EmbeddingRef, tensors: dict[str, torch.Tensor], widths: list[int]) -> list[torch.Tensor]:
    """The file's vectors in the order of the pipeline's text encoders, or a message naming what it was made for."""
    xl_file, xl_model = set(tensors) == SDXL_EMBEDDING_KEYS, len(widths) == 2
    parts = [tensors["clip_l"], tensors["clip_g"]] if xl_file else list(tensors.values())
    if xl_file != xl_model or [part.shape[-1] for part in parts] != widths:
        made_for = "sdxl" if xl_file else EMBEDDING_WIDTHS.get(parts[0].shape[-1])
        what = MADE_FOR_LABELS.get(made_for, f"a model with {parts[0].shape[-1]}-wide text embeddings")
        model = "SDXL" if xl_model else MADE_FOR_LABELS.get(EMBEDDING_WIDTHS.get(widths[0]),
                                                         f"a model with {widths[0]}-wide text embeddings")
        raise ModelError(f"the embedding {embedding.name} was made for {what} models; this model is {model}")
    if xl_file and parts[0].shape[0] != parts[1].shape[0]:
        raise ModelError(f"the embedding {embedding.name} has {parts[0].shape[0]} clip_l vectors but "
                         f"{parts[1].shape[0]} clip_g vectors; they must match")
    return parts
