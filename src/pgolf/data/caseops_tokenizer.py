"""CaseOps SentencePiece tokenizers: the operators reserved at ids 4–7, and each token's original byte count.

Training (#1729's `download_hf_docs_and_tokenize.py`, spec `sp_bpe_8192_lossless_caps_caseops_v1_reserved`): the
challenge's BPE settings (pgolf.data.tokenizer.CHALLENGE_SPEC) on CaseOps-encoded documents, with the four operators
as `user_defined_symbols` — SentencePiece puts them right after pad/bos/eos/unk, so TITLE, ALLCAPS, CAPNEXT, ESC
get ids 4, 5, 6, 7 and are always whole tokens. `check_caseops_tokenizer` audits that layout (and, through
check_byte_accounting, the standalone "▁" piece of issue #897).

Byte counts (the sidecar's values): a token's bytes are the original UTF-8 bytes of the input span SentencePiece
reports for it (its `surface`, #1729's `surface_piece_original_byte_counts`), counted with
pgolf.data.caseops.original_bytes — operators 0, an escaped operator 3, anything else its UTF-8 length. Because the
spans are taken in the *input*, characters the normaliser rewrites (NFKC: "ﬁ" → "fi") count their original bytes,
and the last byte-fallback piece of a character carries its bytes. Characters SentencePiece drops at the start or end
of a document (whitespace, and characters its normaliser deletes there) are in no span and count nowhere, exactly
as in #1729; inside a document every character is in some span. The challenge's documents are stripped, so per
document Σ bytes == len(text.encode("utf-8")) (tested; and on every proxy document by benchmarks/caseops_proxy.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pgolf.data.caseops import OPERATOR_IDS, OPERATORS, encode, original_bytes
from pgolf.data.tokenizer import SPACE, check_byte_accounting
from pgolf.errors import PgolfError

TRAINER_OPTIONS = {"user_defined_symbols": list(OPERATORS)}


def check_caseops_tokenizer(sp, path: str | Path) -> None:
    """The operators must be the pieces at ids 4–7, in the order TITLE, ALLCAPS, CAPNEXT, ESC."""
    check_byte_accounting(sp, path)
    n = int(sp.vocab_size())
    for op, want in zip(OPERATORS, OPERATOR_IDS):
        got = sp.piece_to_id(op)
        if got == sp.unk_id() or want >= n or sp.id_to_piece(want) != op:
            where = "missing" if got == sp.unk_id() else f"at id {got}"
            raise PgolfError(f"{path}: CaseOps operator U+{ord(op):04X} is {where}, expected at id {want} (operators "
                             f"must be user-defined symbols at ids 4–7)")


def operator_ids(sp) -> np.ndarray:
    return np.asarray([sp.piece_to_id(op) for op in OPERATORS], dtype=np.int64)


def token_bytes(sp, transformed: list[str]) -> list[tuple[list[int], np.ndarray]]:
    """For each CaseOps-encoded document: (token ids, each token's original UTF-8 byte count as int64)."""
    try:
        res = sp.encode(transformed, out_type="offset_mapping", num_threads=1)
    except (ValueError, TypeError) as e:
        raise PgolfError(f"sentencepiece: no out_type='offset_mapping' encoding ({e}); CaseOps byte counts need the "
                         f"pieces' input spans (pgolf is tested with sentencepiece 0.2.3)") from None
    out = []
    for text, r in zip(transformed, res):
        cum = np.concatenate(([0], np.cumsum(original_bytes(text))))
        off = np.asarray(r["offsets"], dtype=np.int64).reshape(-1, 2)
        out.append((list(r["ids"]), cum[off[:, 1]] - cum[off[:, 0]]))
    return out


def encode_with_bytes(sp, texts: list[str]) -> list[tuple[list[int], np.ndarray]]:
    """Original documents → (ids of encode(text), per-token original bytes)."""
    return token_bytes(sp, [encode(t) for t in texts])


def audit_caseops(sp, texts, path: str | Path = "tokenizer") -> dict:
    """Tokens and sidecar bytes of sample documents; `bytes_original` is their UTF-8 length (they must agree)."""
    tokens = counted = original = docs = operators = 0
    ops = operator_ids(sp)
    for text in texts:
        (ids, b), = encode_with_bytes(sp, [text])
        tokens += len(ids) + 1  # + BOS, as exported
        operators += int(np.isin(np.asarray(ids, dtype=np.int64), ops).sum())
        counted += int(b.sum())
        original += len(text.encode("utf-8"))
        docs += 1
    n = int(sp.vocab_size())
    return {"path": str(path), "caseops": True, "vocab_size": n, "operator_ids": ops.tolist(),
            "byte_pieces": int(sum(sp.is_byte(i) for i in range(n))), "space_piece_id": int(sp.piece_to_id(SPACE)),
            "docs": docs, "tokens": tokens, "operator_tokens": operators, "bytes_counted": counted,
            "bytes_original": original, "bytes_per_token": counted / tokens if tokens else None,
            "byte_coverage": counted / original if original else None}
