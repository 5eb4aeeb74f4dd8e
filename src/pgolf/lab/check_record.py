"""`pgolf check` rows for a records folder: a public record of openai/parameter-golf or a `pgolf export` folder.

Read as text — submission.json, the training logs (pgolf.lab.record_logs), file sizes — and the tokenizer .model if
the folder ships one, with SentencePiece; a record's code is never imported or run. Per-log rows are merged by
`worst` (any fail, else any unknown, else pass). Training rows read the logs of training runs, eval rows the logs
with a final score (a folder may also hold eval-only reruns, e.g. #1787's ttt_pr1767/summary.log).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pgolf.errors import PgolfError
from pgolf.lab.check_rows import (
    CANONICAL_TRAIN_SHARDS,
    LEAK_TRAIN_SHARDS,
    CheckLimits,
    Row,
    tokenizer_row,
    val_tokens_row,
    variant,
    worst,
)
from pgolf.lab.record_logs import LogFacts, parse_log
from pgolf.lab.records_read import log_files, submission_file

CODE_SUFFIXES = (".py", ".c", ".cc", ".cpp", ".cu", ".h")


def _names(p: Path, text: str) -> bool:
    return p.name in text or bool(re.search(rf"^\s*(?:import|from)\s+{re.escape(p.stem)}\b", text, re.M))


def shipped_code(folder: Path) -> tuple[int, list[str]] | None:
    """Bytes of train_gpt.py plus the folder's code files it names, directly or through a file it names (imports,
    C sources: #2135's train_gpt.py → online_ngram_tilt.py → online_ngram_state.c), or None without train_gpt.py."""
    main = folder / "train_gpt.py"
    if not main.is_file():
        return None
    others = [p for p in sorted(folder.iterdir()) if p.is_file() and p != main and p.suffix in CODE_SUFFIXES]
    files, texts = [main], [main.read_text(errors="replace")]
    while True:
        new = [p for p in others if p not in files and any(_names(p, t) for t in texts)]
        if not new:
            return sum(p.stat().st_size for p in files), [p.name for p in files]
        files += new
        texts += [p.read_text(errors="replace") for p in new]


def _seed_result(sub: dict, log: LogFacts) -> dict:
    sr = sub.get("seed_results")
    if isinstance(sr, dict) and log.seed in sr and isinstance(sr[log.seed], dict):
        return sr[log.seed]
    return {}


def _artifact(log: LogFacts, code: tuple[int, list[str]] | None, lim: CheckLimits) -> Row:
    if log.model_bytes is None:
        return Row("artifact", "unknown", f"{log.name}: no compressed model size")
    if code is None:
        if log.code_bytes is None:
            return Row("artifact", "unknown", f"{log.name}: no train_gpt.py in the folder and no code size logged")
        n, what = log.code_bytes, f"code {log.code_bytes:,} as logged (no train_gpt.py in the folder)"
    else:
        n, what = code[0], f"code {code[0]:,} ({' + '.join(code[1])})"
    total = log.model_bytes + n
    note = (f"; the log counts code {log.code_bytes:,} (compressed wrapper)"
            if log.code_counted == "compressed" else "")
    return Row("artifact", "pass" if total <= lim.cap_bytes else "fail",
               f"{log.name}: model {log.model_bytes:,} + {what} = {total:,} "
               f"{'≤' if total <= lim.cap_bytes else '>'} {lim.cap_bytes:,}{note}")


def _train(log: LogFacts, sub: dict, lim: CheckLimits) -> Row:
    s = log.train_ms / 1000 if log.train_ms is not None else None
    if s is None and (x := _seed_result(sub, log).get("train_time_s")) is not None:
        s = float(x)
    if s is None:
        return Row("train_time", "unknown", f"{log.name}: no training time")
    calib = log.hessian_s if (log.hessian_s is not None and log.calib_on_train) else 0.0
    total = s + calib
    parts = f"train {s:.1f} s" + (f" + GPTQ Hessians on training data {calib:.1f} s = {total:.1f} s" if calib else "")
    if log.hessian_s is not None and not log.calib_on_train:
        parts += " (calibration not on training data)"
    ok = total <= lim.train_seconds
    return Row("train_time", "pass" if ok else "fail",
               f"{log.name}: {parts} {'≤' if ok else '>'} {lim.train_seconds:.0f}")


def _eval(log: LogFacts, sub: dict, lim: CheckLimits) -> tuple[Row, Row]:
    s, src = log.eval_s, "total_eval_time" if log.total_eval_s is not None else "final eval_time"
    if s is None and (x := _seed_result(sub, log).get("eval_time_s")) is not None:
        s, src = float(x), "submission.json eval_time_s"
    if s is None:
        timed = Row("eval_time", "unknown", f"{log.name}: no eval time")
    else:
        ok = s <= lim.eval_seconds
        timed = Row("eval_time", "pass" if ok else "fail",
                    f"{log.name}: {src} {s:.1f} s {'≤' if ok else '>'} {lim.eval_seconds:.0f}")
    if log.model_codec == "pgolf" and s is not None:  # pgolf's eval_seconds run from the end of training
        return timed, Row("eval_end_to_end", timed.status, timed.reason + " (pgolf: everything after training)")
    if not log.eval_parts_s:
        return timed, Row("eval_end_to_end", "unknown", f"{log.name}: no post-training eval times")
    extra = 0.0  # total_eval_time beyond the final line's own eval_time (TTT phases it did not count)
    if log.total_eval_s is not None and log.final_eval_s is not None:
        extra = max(0.0, log.total_eval_s - log.final_eval_s)
    parts = sum(log.eval_parts_s) + extra
    if parts > lim.eval_seconds:
        return timed, Row("eval_end_to_end", "fail", f"{log.name}: the logged eval phases alone take {parts:.1f} s "
                                                     f"> {lim.eval_seconds:.0f} (§5.7)")
    return timed, Row("eval_end_to_end", "unknown", f"{log.name}: logged eval phases {parts:.1f} s; decompression "
                                                    f"and compile warmup are not logged")


def check_record(folder: Path, lim: CheckLimits | None = None) -> tuple[list[Row], list[str]]:
    """Rows for a public records folder (or a pgolf export folder), and notes on what could not be read."""
    lim, folder, notes = lim or CheckLimits(), Path(folder), []
    sub: dict = {}
    if (sub_path := submission_file(folder)) is not None:
        try:
            sub = json.loads(sub_path.read_bytes())
            sub = sub if isinstance(sub, dict) else {}
        except (OSError, ValueError):
            notes.append(f"{sub_path}: not valid JSON; figures from the logs only")
    logs = [parse_log(p.read_text(errors="replace"), str(p.relative_to(folder))) for p in log_files(folder)]
    if not logs and not sub:
        raise PgolfError(f"{folder}: no log and no submission.json — not a records folder or pgolf run")
    code = shipped_code(folder)
    runs = [g for g in logs if g.train_ms is not None] or logs
    scored = [g for g in logs if g.final_bpb is not None] or logs
    rows = [worst("artifact", [_artifact(g, code, lim) for g in runs]) if logs else _sub_artifact(sub, code, lim),
            worst("train_time", [_train(g, sub, lim) for g in runs])]
    evals = [_eval(g, sub, lim) for g in scored]
    rows += [worst("eval_time", [a for a, _ in evals]), worst("eval_end_to_end", [b for _, b in evals])]
    models = sorted(folder.rglob("*.model"))
    tok_names = [g.tokenizer for g in logs if g.tokenizer] + [p.name for p in models]
    var = variant(tok_names[0]) if tok_names else None
    rows.append(worst("val_tokens", [val_tokens_row(g.val_tokens, variant(g.tokenizer) or var, g.name)
                                     for g in runs]))
    shards = [shards_row(g, variant(g.tokenizer) or var) for g in runs]
    rows.append(worst("train_shards", shards))
    rows.append(Row("overlap", "unknown", "a records folder carries no data manifest (the train_shards row catches "
                                          "the known #2127 leak)"))
    rows.append(Row("ttt_score_first", "unknown", "a record's code is never run here; the self-test is for pgolf "
                                                  "runs"))
    rows.append(worst("tokenizer", [tokenizer_row(p) for p in models]) if models else Row(
        "tokenizer", "unknown", f"no tokenizer .model in the folder (logs name {tok_names[0]})" if tok_names
        else "no tokenizer .model in the folder"))
    return rows, notes


def shards_row(g: LogFacts, var: str | None) -> Row:
    """1499 = the #2127 leak; for CaseOps any count but the canonical HF data's 80 is a local rebuild (SPEC_FRONTIER
    §7: "check that the log shows train_shards: 80") is a partial download or a local rebuild: unknown."""
    n = g.train_shards
    if n is None:
        return Row("train_shards", "unknown", f"{g.name}: train_shards not logged")
    if n == LEAK_TRAIN_SHARDS:
        return Row("train_shards", "fail", f"{g.name}: train_shards {n} — the #2127 rebuild with 10,000 val docs: "
                                           f"80% of the val docs were trained on")
    want = CANONICAL_TRAIN_SHARDS.get(var or "")
    if want is not None and n != want:
        return Row("train_shards", "unknown", f"{g.name}: train_shards {n}, not the canonical {want} of {var}: a partial "
                                              f"download or a local rebuild — the log cannot show its val split")
    return Row("train_shards", "pass", f"{g.name}: train_shards {n}")


def _sub_artifact(sub: dict, code, lim: CheckLimits) -> Row:
    total, claimed = sub.get("bytes_total"), sub.get("bytes_code")
    if not isinstance(total, int):
        return Row("artifact", "unknown", "no log and no bytes_total in submission.json")
    if code is not None and isinstance(claimed, int):
        total, how = total - claimed + code[0], f"bytes_total − bytes_code + code {code[0]:,} as shipped"
    else:
        how = "bytes_total as claimed"
    return Row("artifact", "pass" if total <= lim.cap_bytes else "fail",
               f"submission.json: {how} = {total:,} {'≤' if total <= lim.cap_bytes else '>'} {lim.cap_bytes:,}")
