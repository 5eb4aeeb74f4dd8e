"""`pgolf check` rows for a finished pgolf run directory (the rules are listed in pgolf.lab.check).

What a run knows about itself: summary.json (model_bytes and the code_bytes of the bundle its config ships as,
train/eval seconds, scored tokens, eval_partial), config.json (data path, tokenizer, eval and TTT settings),
train.log (GPTQ calibration time: `gptq calibration (train): … | data X s + hooks Y s`), the artifact, and the data
folder's manifest.json when `pgolf data build` wrote it (val/train overlap by document hash). The run's eval_seconds
count everything after training (pre-quant eval, export, round trip, TTT), so the eval rows err long.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pgolf.artifact.model_file import load_model
from pgolf.data.shards import shard_files
from pgolf.errors import PgolfError
from pgolf.lab.check_rows import CheckLimits, Row, tokenizer_row, val_tokens_row, variant
from pgolf.lab.ttt_selftest import selftest
from pgolf.records.folder import load_run

_CALIB = re.compile(r"gptq calibration \((\w+)\):.*?data ([0-9.]+) s \+ hooks ([0-9.]+) s")


def _calibration_seconds(log: str) -> tuple[float, str] | None:
    found = list(_CALIB.finditer(log))
    if not found:
        return None
    m = found[-1]
    return float(m.group(2)) + float(m.group(3)), m.group(1)


def _artifact(run, lim: CheckLimits) -> Row:
    s = run.summary
    total = s["model_bytes"] + s["code_bytes"]
    ok = total <= lim.cap_bytes
    return Row("artifact", "pass" if ok else "fail",
               f"model {s['model_bytes']:,} + code {s['code_bytes']:,} ({s['code_bytes_method']}: the train_gpt.py "
               f"it ships as) = {total:,} {'≤' if ok else '>'} {lim.cap_bytes:,}")


def _train(run, lim: CheckLimits) -> Row:
    s, g = run.summary, run.cfg.quant.gptq
    train = float(s["train_seconds"])
    calib = _calibration_seconds(run.log.decode(errors="replace"))
    if g is not None and g.calibration == "train" and calib is None:
        return Row("train_time", "unknown", f"train {train:.1f} s; GPTQ calibrates on training data but train.log "
                                            f"has no calibration time")
    extra = calib[0] if calib is not None and calib[1] == "train" else 0.0
    total = train + extra
    ok = total <= lim.train_seconds
    parts = f"train {train:.1f} s" + (f" + GPTQ calibration on training data {extra:.1f} s = {total:.1f} s"
                                      if extra else "")
    return Row("train_time", "pass" if ok else "fail", f"{parts} {'≤' if ok else '>'} {lim.train_seconds:.0f}")


def _eval_rows(run, lim: CheckLimits) -> list[Row]:
    e = float(run.summary["eval_seconds"])
    ok = e <= lim.eval_seconds
    why = (f"eval_seconds {e:.1f} {'≤' if ok else '>'} {lim.eval_seconds:.0f} (pre-quant eval + export + round trip"
           f"{' + TTT' if run.cfg.eval.ttt is not None else ''}, from the end of training)")
    return [Row("eval_time", "pass" if ok else "fail", why), Row("eval_end_to_end", "pass" if ok else "fail", why)]


def _val_tokens(run) -> Row:
    s, data = run.summary, run.cfg.data.path
    if s["eval_partial"]:
        return Row("val_tokens", "fail", f"scored a prefix of the val split (eval.max_tokens="
                                         f"{run.cfg.eval.max_tokens:,}): {s['scored_tokens']:,} tokens")
    var = variant(Path(data).name)
    if var is None:
        return Row("val_tokens", "unknown", f"{s['scored_tokens']:,} val tokens of {data}, not a challenge dataset "
                                            f"(fineweb10B_spN)")
    return val_tokens_row(int(s["scored_tokens"]), var, "summary.json")


def _train_shards(run) -> Row:
    data = Path(run.cfg.data.path)
    try:
        n = len(shard_files(data, "train"))
    except PgolfError as e:
        return Row("train_shards", "unknown", str(e))
    if n == 1499:
        return Row("train_shards", "fail", f"{data}: 1499 train shards — the #2127 fingerprint of a rebuild with "
                                           f"10,000 val docs")
    return Row("train_shards", "pass", f"{data}: {n} train shard(s)")


def _overlap(run) -> Row:
    m = Path(run.cfg.data.path) / "manifest.json"
    try:
        manifest = json.loads(m.read_bytes())
        dup = manifest["overlap_check"]["val_train_duplicates"]
        method = manifest["overlap_check"].get("method", "?")
    except OSError:
        return Row("overlap", "unknown", f"{m}: no data manifest to read the overlap from")
    except (ValueError, KeyError, TypeError):
        return Row("overlap", "unknown", f"{m}: no overlap_check in the manifest")
    if dup:
        return Row("overlap", "fail", f"{m}: {dup:,} train document(s) equal val documents ({method})")
    return Row("overlap", "pass", f"{m}: no train document equals a val document ({method})")


def _ttt(run) -> Row:
    if run.cfg.eval.ttt is None:
        return Row("ttt_score_first", "pass", "no eval.ttt in the config: evaluation never adapts")
    path = run.path / Path(run.summary["artifact_path"]).name
    model, _ = load_model(path)
    status, why = selftest(model, run.cfg.eval, run.cfg.eval.seq_len or run.cfg.train.seq_len,
                           run.cfg.quant.control_patterns)
    return Row("ttt_score_first", status, why)


def check_run(run_dir: Path, lim: CheckLimits) -> list[Row]:
    run = load_run(run_dir)
    return [_artifact(run, lim), _train(run, lim), *_eval_rows(run, lim), _val_tokens(run), _train_shards(run),
            _overlap(run), _ttt(run), tokenizer_row(Path(run.cfg.data.tokenizer))]
