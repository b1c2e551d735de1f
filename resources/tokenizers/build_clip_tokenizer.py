"""Build the CLIP BPE tokenizer files (vocab.json, merges.txt) from OpenAI's bpe_simple_vocab_16e6.txt.gz.

Standard library only. Reproduces what OpenAI CLIP's SimpleTokenizer builds in memory and what the
Hugging Face `openai/clip-vit-large-patch14` repository ships: 49408 tokens, the same ids.

Usage:
    python resources/tokenizers/build_clip_tokenizer.py path/to/bpe_simple_vocab_16e6.txt.gz [out_dir]

The .gz ships inside the open_clip wheel (`open_clip/bpe_simple_vocab_16e6.txt.gz`):
    pip download --no-deps open-clip-torch && unzip -j open_clip_torch-*.whl open_clip/bpe_simple_vocab_16e6.txt.gz
out_dir defaults to the `clip/` folder beside this script.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

VOCAB_SIZE = 49408
N_MERGES = 49152 - 256 - 2  # 48894: vocab = 2*256 byte tokens + merges + 2 specials
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible byte -> printable unicode character map (GPT-2 / CLIP)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def build(bpe_gz: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
    if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
        raise ValueError(f"{bpe_gz}: not a CLIP BPE merges file")
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += [BOS, EOS]
    encoder = {token: i for i, token in enumerate(vocab)}
    if len(encoder) != VOCAB_SIZE:
        raise ValueError(f"built {len(encoder)} distinct tokens, expected {VOCAB_SIZE}")
    return encoder, merges


def write(encoder: dict[str, int], merges: list[tuple[str, str]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "vocab.json", "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with open(out_dir / "merges.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        f.write("".join(f"{a} {b}\n" for a, b in merges))


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parent / "clip"
    encoder, merges = build(Path(argv[0]))
    write(encoder, merges, out_dir)
    print(f"wrote {out_dir / 'vocab.json'} ({len(encoder)} tokens) and {out_dir / 'merges.txt'} ({len(merges)} merges)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
