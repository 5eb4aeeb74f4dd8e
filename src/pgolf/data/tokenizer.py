"""SentencePiece tokenizers and the challenge's byte look-up tables (SPEC_SEEDS.md §4.1–4.2).

For each id: control/unknown/unused pieces count 0 bytes and are boundaries; a byte-fallback piece <0xNN> counts 1;
any other piece counts the UTF-8 bytes of its text with a leading "▁" removed and remembered as `has_space`.
A target's bytes are base_bytes[y] + [has_space[y] and not is_boundary[x_prev]] (see pgolf.eval.bpb).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm

from pgolf.errors import PgolfError

SPACE = "\u2581"


def load_sentencepiece(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise PgolfError(f"{path}: tokenizer file not found (expected a SentencePiece .model)")
    sp = spm.SentencePieceProcessor()
    try:
        ok = sp.Load(str(path))
    except Exception as e:  # sentencepiece raises OSError/RuntimeError with multi-line text
        raise PgolfError(f"{path}: not a valid SentencePiece model ({str(e).splitlines()[0] if str(e) else e})") from None
    if not ok:
        raise PgolfError(f"{path}: not a valid SentencePiece model")
    return sp


@dataclass(frozen=True)
class ByteLUT:
    """Per-token byte accounting tables, sized max(tokenizer vocab, model vocab)."""

    base_bytes: np.ndarray  # int16
    has_space: np.ndarray  # bool
    is_boundary: np.ndarray  # bool

    @property
    def size(self) -> int:
        return int(self.base_bytes.shape[0])


def byte_luts(sp, vocab_size: int | None = None) -> ByteLUT:
    n = int(sp.vocab_size())
    size = max(n, vocab_size or 0)
    base = np.zeros(size, dtype=np.int16)
    space = np.zeros(size, dtype=np.bool_)
    boundary = np.ones(size, dtype=np.bool_)
    for i in range(n):
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
            continue
        boundary[i] = False
        if sp.is_byte(i):
            base[i] = 1
            continue
        piece = sp.id_to_piece(i)
        if piece.startswith(SPACE):
            space[i] = True
            piece = piece[1:]
        base[i] = len(piece.encode("utf-8"))
    return ByteLUT(base, space, boundary)


def check_vocab(sp, vocab_size: int, tokenizer_path: str | Path) -> None:
    n = int(sp.vocab_size())
    if n != vocab_size:
        raise PgolfError(f"{tokenizer_path}: tokenizer vocab {n} does not match model.vocab_size={vocab_size}")


# The challenge's trainer settings (openai/parameter-golf data/download_hf_docs_and_tokenize.py; SPEC_SEEDS.md §4.1).
CHALLENGE_SPEC = dict(
    model_type="bpe", character_coverage=0.999, byte_fallback=True, split_digits=True,
    normalization_rule_name="nmt_nfkc", add_dummy_prefix=False, pad_id=0, bos_id=1, eos_id=2, unk_id=3,
    hard_vocab_limit=False,
)


def train_tokenizer(texts, vocab_size: int, prefix: str | Path, num_threads: int = 0, **overrides) -> Path:
    """Train a SentencePiece BPE model with the challenge's spec on an iterable of documents → prefix.model.

    The model is written under a temporary prefix and renamed into place, so an interrupted run leaves nothing
    half-written at `prefix`.
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tmp = prefix.with_name(f".{prefix.name}.tmp{os.getpid()}")
    kwargs = dict(CHALLENGE_SPEC, vocab_size=vocab_size, model_prefix=str(tmp), minloglevel=2)
    if num_threads:
        kwargs["num_threads"] = num_threads
    kwargs.update(overrides)
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), **kwargs)
    except RuntimeError as e:  # e.g. "Vocabulary size is smaller than required_chars. 300 vs 338. …"
        for ext in (".model", ".vocab"):
            Path(f"{tmp}{ext}").unlink(missing_ok=True)
        msg = str(e).splitlines()[0].split("] ", 1)[-1]
        raise PgolfError(f"{prefix}: SentencePiece training failed ({msg})") from None
    for ext in (".model", ".vocab"):
        os.replace(f"{tmp}{ext}", f"{prefix}{ext}")
    model = Path(f"{prefix}.model")
    check_byte_accounting(load_sentencepiece(model), model)
    return model


def check_byte_accounting(sp, path: str | Path) -> None:
    """Refuse tokenizers whose byte accounting would be wrong (SPEC_FRONTIER.md §1.1: a standalone "▁" is needed)."""
    if sp.piece_to_id(SPACE) == sp.unk_id() or sp.id_to_piece(sp.piece_to_id(SPACE)) != SPACE:
        raise PgolfError(f"{path}: tokenizer has no standalone '▁' piece — bpb byte accounting would undercount")
    if sp.bos_id() < 0:
        raise PgolfError(f"{path}: tokenizer has no BOS id (documents are exported as [BOS] + tokens)")


def audit_tokenizer(sp, texts, path: str | Path = "tokenizer") -> dict:
    """Structure and byte accounting of a tokenizer, measured on sample documents.

    `bytes_counted` is what the byte LUTs give for [BOS] + encode(doc); `bytes_normalized` is the UTF-8 length of
    the normalised text (NFKC, spaces collapsed). They agree exactly unless characters fall back to <unk>, which the
    challenge's accounting counts as 0 bytes (byte-fallback tokenizers never emit <unk>).
    """
    n = int(sp.vocab_size())
    lut = byte_luts(sp)
    counted = normalized = tokens = unk = docs = 0
    for text in texts:
        ids = np.asarray([sp.bos_id(), *sp.encode(text)], dtype=np.int64)
        x, y = ids[:-1], ids[1:]
        counted += int(lut.base_bytes[y].sum() + (lut.has_space[y] & ~lut.is_boundary[x]).sum())
        normalized += len(sp.normalize(text).replace(SPACE, " ").encode("utf-8"))
        tokens += int(y.size)
        unk += int((y == sp.unk_id()).sum())
        docs += 1
    space = sp.piece_to_id(SPACE)
    return {
        "path": str(path), "vocab_size": n, "pad_id": sp.pad_id(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(),
        "unk_id": sp.unk_id(), "byte_pieces": int(sum(sp.is_byte(i) for i in range(n))),
        "space_piece_id": None if space == sp.unk_id() else int(space), "docs": docs, "tokens": tokens,
        "unk_tokens": unk, "bytes_counted": counted, "bytes_normalized": normalized,
        "bytes_per_token": counted / tokens if tokens else None,
        "byte_coverage": counted / normalized if normalized else None,
    }
