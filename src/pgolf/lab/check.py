"""`pgolf check`: does a run or a record satisfy the challenge's rules? A pass / fail / unknown table, one reason per row.

Rows (README of openai/parameter-golf; SPEC_FRONTIER.md §1.2, §4.1, §4.6, §5.7; issues #897, #2127):
- artifact: compressed model + code *as shipped* ≤ 16,000,000 bytes. For a record the code is the folder's
  train_gpt.py (and the local modules or C sources it names, directly or through them) at its file size, not the self-extracting wrapper
  size many logs print since #1530 (#1855: 15,865,260 + 157,868 = 16,023,128, over the cap);
- train_time: training ≤ 600 s, counting GPTQ calibration that reads training data after the loop stopped; no
  tolerance (the March scripts stop 0.0–0.1 s past 600 s at a step boundary: those logs fail by that much);
- eval_time: the timed evaluation of the final score ≤ 600 s; eval_end_to_end: every logged post-training eval
  phase together (a record's log omits decompression and compile warmup, so ≤ 600 s there is "unknown");
- val_tokens: the scored val tokens equal the canonical count of the tokenizer variant (CANONICAL_VAL_TOKENS);
- train_shards: the `train_shards: 1499` fingerprint of a CaseOps rebuild with 10,000 val docs (#2127); another
  CaseOps count than the canonical 80 is unknown (a partial download or a rebuild of unknown val split);
- overlap: val/train document overlap, where a data manifest records it (pgolf's `data build`);
- ttt_score_first: a perturbation self-test of the artifact's TTT (pgolf.lab.ttt_selftest; pgolf runs only);
- tokenizer: "▁" is a piece of its own (else the byte LUTs undercount spaces and bpb is ~20% low, #897).

Records folders are checked in pgolf.lab.check_record (as text; a record's code is never imported or run), pgolf
run directories in pgolf.lab.check_run; the shared rows live in pgolf.lab.check_rows. Unknown is an answer: it says
which fact is missing.
"""

from __future__ import annotations

from pathlib import Path

from pgolf.errors import PgolfError
from pgolf.lab.check_record import check_record
from pgolf.lab.check_rows import ROWS, CheckLimits, Row
from pgolf.lab.check_run import check_run

__all__ = ["ROWS", "CheckLimits", "Row", "check", "check_record", "check_run", "render"]


def check(path: Path, lim: CheckLimits | None = None) -> tuple[list[Row], list[str]]:
    path = Path(path)
    if not path.is_dir():
        raise PgolfError(f"{path}: not a folder (give a pgolf run dir or a records folder)")
    if (path / "summary.json").is_file() and (path / "config.json").is_file():
        return check_run(path, lim or CheckLimits()), []
    return check_record(path, lim)


def render(path: Path, rows: list[Row], notes: list[str]) -> str:
    out = [f"{path}", f"{'check':<52}{'status':<9}reason"]
    out += [f"{ROWS[r.key]:<52}{r.status.upper():<9}{r.reason}" for r in rows]
    counts = {s: sum(r.status == s for r in rows) for s in ("pass", "fail", "unknown")}
    out.append(" | ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(out + notes)
