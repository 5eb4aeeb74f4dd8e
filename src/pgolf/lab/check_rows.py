"""The rows of `pgolf check` and the pieces both checkers share (pgolf.lab.check_record for records folders,
pgolf.lab.check_run for pgolf runs): row titles, limits, the canonical val token counts, the tokenizer check.

The rules themselves are listed in pgolf.lab.check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pgolf.data.tokenizer import SPACE, check_byte_accounting, load_sentencepiece
from pgolf.errors import PgolfError

ROWS = {
    "artifact": "artifact ≤ 16,000,000 bytes (code as shipped)",
    "train_time": "train ≤ 600 s (incl. calibration on training data)",
    "eval_time": "eval ≤ 600 s (timed final evaluation)",
    "eval_end_to_end": "eval end to end ≤ 600 s",
    "val_tokens": "val tokens = canonical count",
    "train_shards": "no train_shards: 1499 (#2127 leak)",
    "overlap": "no val/train document overlap",
    "ttt_score_first": "TTT is score-first (self-test)",
    "tokenizer": "tokenizer has '▁' as a piece (#897)",
}
# val tokens scored on the full split, by tokenizer variant: SPEC_FRONTIER §1.2 (CaseOps, with / without the tail;
# SP8192) and SPEC_SEEDS §3 (sp1024: every record log since 2026-03-18; the 2026-03-17 baseline predates a
# re-export). sp4096 records log two counts (45,508,608 and 45,514,752) and no source says which is canonical.
CANONICAL_VAL_TOKENS = {"sp1024": (62_021_632,), "sp8192": (40_540_160,), "caseops_sp8192": (47_851_520, 47_853_343)}
LEAK_TRAIN_SHARDS = 1499
CANONICAL_TRAIN_SHARDS = {"caseops_sp8192": 80}  # romeerp/parameter-golf-caseops-v1 (SPEC_FRONTIER §1.2, §7)


@dataclass(frozen=True)
class CheckLimits:
    cap_bytes: int = 16_000_000
    train_seconds: float = 600.0
    eval_seconds: float = 600.0


@dataclass(frozen=True)
class Row:
    key: str
    status: str  # pass | fail | unknown
    reason: str


def variant(name: str | None) -> str | None:
    """Tokenizer variant from a tokenizer or dataset name (fineweb_8192_bpe…caseops….model, fineweb10B_sp1024)."""
    if not name:
        return None
    n = Path(name).name.lower()
    m = re.search(r"fineweb_(\d+)_bpe", n) or re.search(r"_sp(\d+)", n)
    if m is None:
        return None
    return f"caseops_sp{m.group(1)}" if "caseops" in n else f"sp{m.group(1)}"


def val_tokens_row(count: int | None, var: str | None, where: str) -> Row:
    if count is None:
        return Row("val_tokens", "unknown", f"{where}: no val token count")
    if var not in CANONICAL_VAL_TOKENS:
        return Row("val_tokens", "unknown", f"{where}: {count:,} val tokens; no canonical count for tokenizer "
                                            f"variant {var or '(not named)'}")
    want = CANONICAL_VAL_TOKENS[var]
    if count in want:
        return Row("val_tokens", "pass", f"{where}: {count:,} = canonical {var}")
    d = want[0] - count
    return Row("val_tokens", "fail", f"{where}: {count:,} val tokens, canonical {var} is {want[0]:,} "
                                     f"({'short' if d > 0 else 'over'} by {abs(d):,} = {abs(d) / want[0]:.3%})")


def tokenizer_row(path: Path) -> Row:
    """pgolf.data.tokenizer's own byte-accounting check, on a tokenizer file."""
    try:
        sp = load_sentencepiece(path)
    except PgolfError as e:
        return Row("tokenizer", "unknown", str(e))
    try:
        check_byte_accounting(sp, Path(path).name)
    except PgolfError as e:
        return Row("tokenizer", "fail", f"{e} (bpb reads ~20% low, issue #897)")
    return Row("tokenizer", "pass", f"{Path(path).name}: '▁' is piece {sp.piece_to_id(SPACE)}")


def worst(key: str, rows: list[Row]) -> Row:
    """One row from per-log rows: any fail (all fail reasons), else any unknown, else pass (first reason)."""
    for status in ("fail", "unknown"):
        bad = [r for r in rows if r.status == status]
        if bad:
            return Row(key, status, "; ".join(r.reason for r in bad))
    if not rows:
        return Row(key, "unknown", "no log")
    return Row(key, "pass", rows[0].reason + (f" (and {len(rows) - 1} more log(s))" if len(rows) > 1 else ""))
