"""Weighted and long prompts (AUTOMATIC1111 emphasis, `BREAK`, more than 75 tokens) as pipeline embeddings.

    pipe(**prompt_inputs(pipe, recipe.prompt, recipe.negative_prompt, recipe.clip_skip), ...)

A prompt pair that is plain text of at most 75 tokens goes to diffusers as strings, exactly as before (stock
diffusers' pixels). Otherwise each prompt's pieces (core/prompt_syntax.py) are tokenized without special tokens,
every token keeps its piece's weight, and the tokens fill chunks of 75 (BREAK starts a new one), each laid out as
the pipeline's tokenizer lays out a prompt (BOS, tokens, EOS, padding to 77). The chunks are encoded as the
pipeline's `encode_prompt` does (SD: last hidden state; SDXL: both encoders' penultimate hidden states side by
side, pooled output from the first chunk) and joined along the token axis; then each chunk is weighted as A1111
does: every token's embedding times its weight, rescaled so the chunk's mean stays the unweighted mean. Positive
and negative get the same number of chunks (empty ones pad the shorter) so CFG can batch them.

Clip skip: the recipe counts as AUTOMATIC1111 does (1 = the last layer, off; 2 = the one before it…), diffusers
counts the layers skipped (None = off, 1 = the pre-final layer), so A1111's N is diffusers' `clip_skip=N - 1`
(`diffusers_clip_skip`). SD 1.x/2.x: hidden state -N, through the encoder's final layer norm; SDXL: hidden state
-(N + 1), since SDXL already takes the penultimate layer (diffusers' semantics, no layer norm). A clip skip above 1
always takes the embeddings path, plain prompts included: diffusers 0.42's SD `encode_prompt(clip_skip=...)` reaches
for `text_encoder.text_model.final_layer_norm`, which transformers 5's CLIPTextModel no longer has (its layers sit
on the model itself), so Studio encodes the same layers itself (`_final_layer_norm` finds the norm either way).
The negative prompt gets the clip skip too, as in A1111 (diffusers 0.42 applies `clip_skip` to the positive prompt
only, leaving CFG to subtract embeddings from two different layers).

Textual-inversion embeddings (engine/embeddings.py): an embedding's name written in a prompt takes one token slot
per vector (kept in one chunk), and while the encoder runs, a hook on its token-embedding layer puts the vectors in
those slots, as A1111 does; the position embeddings and the rest of the encoder apply as to any token. A prompt
naming an embedding always takes this path.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from studio.core.embedding_words import named_in, word_pattern
from studio.core.prompt_syntax import Break, is_plain, parse_prompt
from studio.core.recipe import EmbeddingRef
from studio.engine.embeddings import embedding_vectors
from studio.engine.speed import remember_embeddings

CHUNK = 75  # tokens per chunk; BOS and EOS make CLIP's 77
COMMA_BACKTRACK = 20  # A1111's default: a chunk may end up to this many tokens early, at a comma


def diffusers_clip_skip(clip_skip: int) -> int | None:
    """A1111's "Clip skip: N" (1 = off) as diffusers' `clip_skip` argument (None = off, 1 = pre-final layer)."""
    return clip_skip - 1 if clip_skip > 1 else None


@dataclass
class Chunk:
    """Up to CHUNK token ids with their emphasis weights, and the embedding vectors that replace some of them."""

    tokens: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    vectors: dict[int, torch.Tensor] = field(default_factory=dict)  # position in `tokens` → vector


def prompt_inputs(pipe, prompt: str, negative: str | None, clip_skip: int = 1,
                  embeddings: Sequence[EmbeddingRef] = ()) -> dict:
    """The pipeline's text arguments for a prompt pair: strings on the plain path, embeddings otherwise.
    `clip_skip` counts as A1111 does; at 1 the arguments are exactly those of a pipeline without it.
    `embeddings`: the textual-inversion embeddings the prompts may name."""
    negative = negative or ""
    written = set(named_in((prompt, negative), [e.name for e in embeddings]))
    named = [e for e in embeddings if e.name.lower() in written]
    if clip_skip == 1 and not named and all(_plain(pipe, text) for text in (prompt, negative)):
        return {"prompt": prompt, "negative_prompt": negative or None}
    vectors = embedding_vectors([encoder for _, encoder in _encoders(pipe)], named) if named else {}
    files = tuple(_file_identity(e.path) for e in named)
    return remember_embeddings(pipe, (prompt, negative),
                               lambda: weighted_embeddings(pipe, prompt, negative, clip_skip, vectors),
                               clip_skip=clip_skip, extra=files)


def _file_identity(path: str) -> tuple:
    stat = Path(path).expanduser().stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def _encoders(pipe) -> list[tuple]:
    pairs = [(getattr(pipe, "tokenizer", None), getattr(pipe, "text_encoder", None)),
             (getattr(pipe, "tokenizer_2", None), getattr(pipe, "text_encoder_2", None))]
    return [(tokenizer, encoder) for tokenizer, encoder in pairs if encoder is not None]


def _tokens(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, truncation=False, verbose=False).input_ids if text else []


def _plain(pipe, text: str) -> bool:
    return is_plain(text) and all(len(_tokens(tokenizer, text)) <= CHUNK for tokenizer, _ in _encoders(pipe))


def token_chunks(tokenizer, text: str, vectors: dict[str, torch.Tensor] | None = None) -> list[Chunk]:
    """The prompt's tokens and their weights, in chunks of at most CHUNK (BREAK ends a chunk early). As A1111
    does, a full chunk is cut after its last comma when that comma is among its last COMMA_BACKTRACK tokens, so
    a phrase is not split between two chunks. `vectors`: embedding name (lower case) → [n, width] vectors; a
    name in the text takes n slots, all in one chunk."""
    comma = _comma_id(tokenizer)
    pattern = word_pattern(vectors or {})
    chunks = [Chunk()]
    for piece in parse_prompt(text):
        if isinstance(piece, Break):
            chunks.append(Chunk())
            continue
        piece_text, weight = piece
        for part, name in _split_names(piece_text, pattern):
            if name is not None:
                _add_embedding(chunks, vectors[name], weight, _tokens(tokenizer, name)[0])
                continue
            for token in _tokens(tokenizer, part):
                if len(chunks[-1].tokens) == CHUNK:
                    chunks.append(_carry_after_comma(chunks[-1], comma))
                chunks[-1].tokens.append(token)
                chunks[-1].weights.append(weight)
    return chunks


def _split_names(text: str, pattern) -> list[tuple[str, str | None]]:
    """The text as (plain part, None) and (name, name in lower case) pieces."""
    if pattern is None:
        return [(text, None)]
    parts, start = [], 0
    for match in pattern.finditer(text):
        parts.append((text[start:match.start()], None))
        parts.append((match.group(1), match.group(1).lower()))
        start = match.end()
    parts.append((text[start:], None))
    return [(part, name) for part, name in parts if part]


def _add_embedding(chunks: list[Chunk], vectors: torch.Tensor, weight: float, placeholder: int) -> None:
    """An embedding's vectors take one slot each, in a single chunk: one that would not fit where the chunk is
    starts a new chunk, as in A1111. The slot's id (the name's first token, never the end token, which pools
    SDXL's prompt) is replaced by the vector while encoding."""
    count = min(len(vectors), CHUNK)
    if len(chunks[-1].tokens) + count > CHUNK:
        chunks.append(Chunk())
    chunk = chunks[-1]
    for row in range(count):
        chunk.vectors[len(chunk.tokens)] = vectors[row]
        chunk.tokens.append(placeholder)
        chunk.weights.append(weight)


def _comma_id(tokenizer) -> int | None:
    ids = _tokens(tokenizer, ",")
    return ids[0] if len(ids) == 1 else None


def _carry_after_comma(full: Chunk, comma: int | None) -> Chunk:
    """The start of the next chunk: the full chunk's tokens after its last comma, moved (when near its end)."""
    tokens, weights = full.tokens, full.weights
    last = max((i for i, token in enumerate(tokens) if token == comma and i not in full.vectors), default=-1)
    if last < 0 or len(tokens) - 1 - last > COMMA_BACKTRACK:
        return Chunk()
    moved = {i - last - 1: v for i, v in full.vectors.items() if i > last}
    carried = Chunk(tokens[last + 1:], weights[last + 1:], moved)
    del tokens[last + 1:], weights[last + 1:]
    full.vectors = {i: v for i, v in full.vectors.items() if i <= last}
    return carried


def _layout(tokenizer, chunks) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids, attention mask and weights, one row of CHUNK + 2 per chunk, as the tokenizer pads a prompt."""
    length = CHUNK + 2
    ids, mask, weights = [], [], []
    for chunk in chunks:
        row = [tokenizer.bos_token_id, *chunk.tokens, tokenizer.eos_token_id]
        padding = length - len(row)
        ids.append(row + [tokenizer.pad_token_id] * padding)
        mask.append([1] * len(row) + [0] * padding)
        weights.append([1.0, *chunk.weights] + [1.0] * (padding + 1))
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(weights)


@contextlib.contextmanager
def _vectors_in_place(encoder, chunks: list[Chunk]):
    """While the encoder runs, its token-embedding layer returns the embeddings' vectors at their slots (one
    after BOS: slot i of chunk c is row c, position i + 1)."""
    slots = [(row, position + 1, vector) for row, chunk in enumerate(chunks) for position, vector in chunk.vectors.items()]
    if not slots:
        yield
        return

    def put_vectors(module, args, output):
        output = output.clone()
        for row, position, vector in slots:
            output[row, position] = vector.to(output.device, output.dtype)
        return output

    handle = encoder.get_input_embeddings().register_forward_hook(put_vectors)
    try:
        yield
    finally:
        handle.remove()


def _encode(pipe, encoder, ids: torch.Tensor, mask: torch.Tensor, xl: bool, clip_skip: int = 1):
    """(hidden states [chunks, 77, dim], pooled [chunks, dim] or None) as the pipeline's encode_prompt takes them,
    with diffusers' `clip_skip` semantics (A1111's N: see the module's note)."""
    device = pipe._execution_device
    skip = diffusers_clip_skip(clip_skip)
    if xl:
        output = encoder(ids.to(device), output_hidden_states=True)
        layer = -2 if skip is None else -(skip + 2)  # SDXL always counts from the penultimate layer
        return output.hidden_states[layer], (output[0] if output[0].ndim == 2 else None)
    use_mask = getattr(encoder.config, "use_attention_mask", False)
    attention_mask = mask.to(device) if use_mask else None
    if skip is None:
        return encoder(ids.to(device), attention_mask=attention_mask)[0], None
    output = encoder(ids.to(device), attention_mask=attention_mask, output_hidden_states=True)
    return _final_layer_norm(encoder)(output.hidden_states[-(skip + 1)]), None


def _final_layer_norm(encoder):
    """CLIP's last layer norm: on `text_model` in transformers 4, on the model itself in transformers 5."""
    return getattr(encoder, "text_model", encoder).final_layer_norm


def _weighted(hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """A1111's emphasis, chunk by chunk: scale each token, then restore the chunk's mean."""
    if bool((weights == 1.0).all()):
        return hidden  # exactly the unweighted embeddings
    weights = weights.to(hidden.device, hidden.dtype).unsqueeze(-1)
    original = hidden.mean(dim=(1, 2), keepdim=True)
    scaled = hidden * weights
    return scaled * (original / scaled.mean(dim=(1, 2), keepdim=True))


def _padded(chunks: list[Chunk], count: int) -> list[Chunk]:
    return chunks + [Chunk() for _ in range(count - len(chunks))]


def _embed(pipe, per_encoder_chunks: list, xl: bool, clip_skip: int = 1) -> tuple[torch.Tensor, torch.Tensor | None]:
    hidden_parts, pooled = [], None
    for (tokenizer, encoder), chunks in zip(_encoders(pipe), per_encoder_chunks):
        ids, mask, weights = _layout(tokenizer, chunks)
        with _vectors_in_place(encoder, chunks):
            hidden, chunk_pooled = _encode(pipe, encoder, ids, mask, xl, clip_skip)
        hidden_parts.append(_weighted(hidden, weights))
        if chunk_pooled is not None:
            pooled = chunk_pooled[:1]  # A1111 and diffusers: the pooled output of the first chunk
    hidden = torch.cat(hidden_parts, dim=-1)
    return hidden.reshape(1, -1, hidden.shape[-1]), pooled


def weighted_embeddings(pipe, prompt: str, negative: str, clip_skip: int = 1,
                        vectors: dict[str, list[torch.Tensor]] | None = None) -> dict:
    """`prompt_embeds`, `negative_prompt_embeds` (and the pooled pair for SDXL) for a prompt pair; `clip_skip` in
    A1111's numbering; `vectors`: embedding name → one [n, width] tensor per text encoder."""
    xl = hasattr(pipe, "text_encoder_2")
    encoders = _encoders(pipe)
    vectors = vectors or {}
    per_encoder = [{name: parts[index] for name, parts in vectors.items()} for index in range(len(encoders))]
    positive = [token_chunks(tokenizer, prompt, own) for (tokenizer, _), own in zip(encoders, per_encoder)]
    negatives = [token_chunks(tokenizer, negative, own) for (tokenizer, _), own in zip(encoders, per_encoder)]
    count = max(len(chunks) for chunks in positive + negatives)
    embeds, pooled = _embed(pipe, [_padded(chunks, count) for chunks in positive], xl, clip_skip)
    if xl and not negative and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
        negative_embeds, negative_pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)  # as diffusers does
    else:
        negative_embeds, negative_pooled = _embed(pipe, [_padded(chunks, count) for chunks in negatives], xl, clip_skip)
    inputs = {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds}
    if xl:
        inputs.update(pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=negative_pooled)
    return inputs
