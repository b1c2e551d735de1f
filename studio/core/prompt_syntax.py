"""AUTOMATIC1111's prompt emphasis syntax, parsed into (text, weight) pieces; no torch here.

`(text)` multiplies the attention to text by 1.1, `[text]` divides it by 1.1, `(text:1.3)` sets a factor of 1.3,
and nesting multiplies. `\\(` `\\)` `\\[` `\\]` are literal brackets; brackets left open are closed at the end, and
stray closing ones are kept as text. `BREAK` (upper case, a word of its own) starts a new 75-token chunk.
The rules and the regular expression follow A1111's `modules/prompt_parser.parse_prompt_attention`, so the
weights (float products included) are the ones A1111 computes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROUND = 1.1
SQUARE = 1 / 1.1

_TOKENS = re.compile(r"""
\\\(|
\\\)|
\\\[|
\\]|
\\\\|
\\|
\(|
\[|
:\s*([+-]?[.\d]+)\s*\)|
\)|
]|
[^\\()\[\]:]+|
:
""", re.X)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


@dataclass(frozen=True)
class Break:
    """Where a prompt asks for a new chunk."""


BREAK = Break()
Piece = tuple[str, float]


def parse_prompt(text: str) -> list[Piece | Break]:
    """The prompt as (text, weight) pieces and BREAK markers, neighbours of equal weight merged.
    A prompt without syntax is one piece of weight 1.0 (an empty one: ("", 1.0))."""
    pieces: list[list] = []  # [text, weight] or [BREAK, None], mutable while brackets close
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            if piece[0] is not BREAK:
                piece[1] *= factor

    for match in _TOKENS.finditer(text):
        token, weight = match.group(0), match.group(1)
        if token.startswith("\\"):
            pieces.append([token[1:], 1.0])
        elif token == "(":
            round_open.append(len(pieces))
        elif token == "[":
            square_open.append(len(pieces))
        elif weight is not None and round_open:
            multiply(round_open.pop(), float(weight))
        elif token == ")" and round_open:
            multiply(round_open.pop(), ROUND)
        elif token == "]" and square_open:
            multiply(square_open.pop(), SQUARE)
        else:
            for index, part in enumerate(_BREAK.split(token)):
                if index:
                    pieces.append([BREAK, None])
                pieces.append([part, 1.0])
    for start in round_open:
        multiply(start, ROUND)
    for start in square_open:
        multiply(start, SQUARE)
    return _merged(pieces)


def _merged(pieces: list[list]) -> list[Piece | Break]:
    merged: list[Piece | Break] = []
    for text, weight in pieces:
        if text is BREAK:
            merged.append(BREAK)
        elif not text:
            continue  # an empty piece (between brackets, around BREAK) adds no tokens
        elif merged and not isinstance(merged[-1], Break) and merged[-1][1] == weight:
            merged[-1] = (merged[-1][0] + text, weight)
        else:
            merged.append((text, weight))
    return merged or [("", 1.0)]


def is_plain(text: str) -> bool:
    """Whether the prompt means exactly its own text at weight 1 (no brackets, escapes or BREAK that count)."""
    return parse_prompt(text) == [(text, 1.0)]
