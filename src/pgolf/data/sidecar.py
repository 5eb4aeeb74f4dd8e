"""The val byte sidecar of CaseOps data: `fineweb_val_bytes_NNNNNN.bin`, one per val shard (#1729; SPEC_FRONTIER §1.2).

Layout (the public one): the shard format of pgolf.data.shards — a 256-int32 header (magic 20240520, version 1,
count) then little-endian uint16 values — parallel to `fineweb_val_NNNNNN.bin`: value k is the number of ORIGINAL
(pre-transform) UTF-8 bytes that val token k stands for; BOS and operators 0 (pgolf.data.caseops_tokenizer).
Scoring then uses bpb = (Σ NLL / ln 2) / Σ sidecar over the scored targets (pgolf.eval.accounting).

`load_sidecar` refuses, one line each: a sidecar file missing for a val shard (or a stray one), one whose count
differs from its shard's ("short"), one whose size is not 1024 + 2·count ("wrong dtype": 4- or 8-byte values).
`check_sidecar` compares the values with the tokenizer: BOS positions and unescaped operator tokens must hold 0, and
the total must agree with the tokenizer's own accounting — the byte look-up tables with operators counting 0 and an
escaped operator 3 — within `TOLERANCE`. The two differ legitimately only where SentencePiece's normaliser rewrote
the input (whitespace runs collapsed, NFKC): the sidecar counts the original bytes, the tables the normalised text.
Measured gaps: 0.003% on FineWeb (#1855 vs #1626 logs), +4.65% on the whitespace-heavy Python-docs test corpus; so
the bound is loose (±10%) and catches a sidecar of another scale (doubled, all ones, another tokenizer's lengths);
the per-token rules above catch a shifted sidecar and one counting operators as their 3 UTF-8 bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pgolf.data.caseops_tokenizer import operator_ids
from pgolf.data.shards import HEADER_BYTES, MAGIC, read_header, read_shard, shard_files
from pgolf.data.tokenizer import ByteLUT, byte_luts
from pgolf.errors import PgolfError

PREFIX = "fineweb_val_bytes_"
_NAME = re.compile(r"^fineweb_val_bytes_(\d{6})\.bin$")
TOLERANCE = 0.10  # relative |Σ sidecar − Σ tokenizer accounting| allowed (see the module docstring)


def sidecar_name(index: int) -> str:
    return f"{PREFIX}{index:06d}.bin"


def sidecar_files(data_dir: Path) -> list[Path]:
    """The sidecar files of a directory, sorted ([] when it has none)."""
    return sorted(p for p in Path(data_dir).glob(f"{PREFIX}*.bin") if _NAME.match(p.name))


def has_sidecar(data_dir: Path) -> bool:
    return bool(sidecar_files(data_dir))


def _read(path: Path, want: int) -> np.ndarray:
    try:
        raw = np.fromfile(path, dtype="<i4", count=3)
    except OSError as e:
        raise PgolfError(f"{path}: cannot read the byte sidecar ({e.strerror})") from None
    if raw.size == 3 and int(raw[0]) == MAGIC and int(raw[2]) > 0:
        width = (path.stat().st_size - HEADER_BYTES) / int(raw[2])
        if width in (4.0, 8.0):
            raise PgolfError(f"{path}: byte sidecar holds {int(width)}-byte values, expected uint16 (2 bytes each)")
    n = read_header(path)
    if n != want:
        raise PgolfError(f"{path}: byte sidecar holds {n:,} values, its val shard holds {want:,} tokens "
                         f"({'short' if n < want else 'long'}; rebuild or re-download it)")
    return np.asarray(read_shard(path))


def load_sidecar(data_dir: Path) -> np.ndarray:
    """All sidecar values of a directory, concatenated like the val shards (uint16); see the module docstring."""
    data_dir = Path(data_dir)
    val = shard_files(data_dir, "val")
    side = sidecar_files(data_dir)
    names = {p.name for p in side}
    for i, shard in enumerate(val):
        if sidecar_name(i) not in names:
            raise PgolfError(f"{data_dir / sidecar_name(i)}: byte sidecar missing for {shard.name} (CaseOps data "
                             f"needs one per val shard)")
    if len(side) > len(val):
        raise PgolfError(f"{side[len(val)]}: byte sidecar without a val shard {side[len(val)].name.replace('bytes_', '')}")
    parts = [_read(p, read_header(s)) for p, s in zip(side, val)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


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
