"""The CaseOps val byte sidecar against its tokenizer (`pgolf data verify`; the file layer is pgolf.data.sidecar).

`check_sidecar` compares the values with the tokenizer: BOS positions and unescaped operator tokens must hold 0, and
the total must agree with the tokenizer's own accounting — the byte look-up tables with operators counting 0 and an
escaped operator 3 — within `TOLERANCE`. The two differ legitimately only where SentencePiece's normaliser rewrote
the input (whitespace runs collapsed, NFKC): the sidecar counts the original bytes, the tables the normalised text.
Measured gaps: 0.003% on FineWeb (#1855 vs #1626 logs), +0.18% on the Gutenberg proxy, +4.65% on the
whitespace-heavy Python-docs test corpus; so the bound is loose (±10%) and catches a sidecar of another scale
(doubled, all ones, another tokenizer's lengths); the per-token rules catch a shifted sidecar and one counting
operators as their 3 UTF-8 bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pgolf.data.caseops_tokenizer import operator_ids
from pgolf.data.tokenizer import ByteLUT, byte_luts
from pgolf.errors import PgolfError

TOLERANCE = 0.10  # relative |Σ sidecar − Σ tokenizer accounting| allowed (see the module docstring)


def caseops_luts(sp, vocab_size: int | None = None):
    """The tokenizer's own accounting for CaseOps tokens: the byte look-up tables with operator pieces at 0 bytes."""
    lut = byte_luts(sp, vocab_size)
    base = lut.base_bytes.copy()
    base[operator_ids(sp)] = 0
    return ByteLUT(base, lut.has_space, lut.is_boundary)


def tokenizer_bytes(tokens: np.ndarray, sp) -> np.ndarray:
    """Per token of a stream, the bytes the tokenizer's tables give it (position 0 counts 0; an escaped operator 3)."""
    lut = caseops_luts(sp)
    t = np.asarray(tokens, dtype=np.int64)
    out = np.zeros(t.size, dtype=np.int64)
    x, y = t[:-1], t[1:]
    out[1:] = lut.base_bytes[y] + (lut.has_space[y] & ~lut.is_boundary[x])
    ops = operator_ids(sp)
    esc, esc_at = int(ops[3]), -2  # an operator right after an unescaped ESC is a literal (3 bytes)
    for i in np.flatnonzero(np.isin(t, ops)).tolist():
        if i == esc_at + 1:
            out[i], esc_at = 3, -2
        else:
            esc_at = i if t[i] == esc else -2
    return out


def check_sidecar(tokens: np.ndarray, side: np.ndarray, sp, where: str | Path) -> dict:
    """The sidecar against the tokenizer (module docstring); → totals for the report."""
    t, s = np.asarray(tokens, dtype=np.int64), np.asarray(side, dtype=np.int64)
    if t.size != s.size:
        raise PgolfError(f"{where}: byte sidecar holds {s.size:,} values for {t.size:,} val tokens")
    bos = np.flatnonzero(t == sp.bos_id())
    if bos.size and s[bos].any():
        k = int(bos[np.argmax(s[bos] > 0)])
        raise PgolfError(f"{where}: byte sidecar gives BOS at val position {k} {int(s[k])} bytes, expected 0 "
                         f"(misaligned sidecar?)")
    mine = tokenizer_bytes(t, sp)
    ops = np.flatnonzero(np.isin(t, operator_ids(sp)) & (mine == 0))
    if ops.size and s[ops].any():
        k = int(ops[np.argmax(s[ops] > 0)])
        raise PgolfError(f"{where}: byte sidecar gives the operator token at val position {k} {int(s[k])} bytes, "
                         f"expected 0 (operators stand for no original byte)")
    total, theirs = int(s.sum()), int(mine.sum())
    if theirs and abs(total - theirs) > TOLERANCE * theirs:
        raise PgolfError(f"{where}: byte sidecar totals {total:,} bytes, the tokenizer's accounting {theirs:,} "
                         f"({(total - theirs) / theirs:+.2%}; more than ±{TOLERANCE:.0%}) — built with another "
                         f"tokenizer or another byte rule?")
    return {"sidecar_bytes": total, "tokenizer_bytes": theirs}
