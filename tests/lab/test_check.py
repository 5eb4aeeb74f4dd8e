"""`pgolf check`: every row passes on a good record / run and fails on one crafted to break it; records are read as
text, pgolf runs through their own files (one tiny training with GPTQ and full-model TTT)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import pgolf.eval.ttt as ttt_mod
import pgolf.lab.check_run as check_run
from pgolf.cli import main
from pgolf.config import Config, config_hash, from_dict, override, to_dict
from pgolf.errors import PgolfError
from pgolf.eval.score_first import Released, ScoredChunk
from pgolf.lab.check import ROWS, check
from pgolf.lab.check_rows import CANONICAL_VAL_TOKENS
from pgolf.lab.record_logs import parse_log
from pgolf.records.folder import export

CASEOPS = "fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model"
# the figures of #1855's seed-42 log (SPEC_FRONTIER §7), in its own line formats, with the training time lowered
GOOD_LOG = f"""tokenizer_path: /ws/data/tokenizers/{CASEOPS}
train_shards: 80
val_tokens: 47851520
4500/20000 train_loss: 2.2771 train_time: 9.0m tok/s: 6589668
4945/20000 val_loss: 2.3539 val_bpb: 1.0756
stopping_early: wallclock_cap train_time: 590000ms step: 4945/20000
diagnostic pre-quantization post-ema val_loss:2.32848665 val_bpb:1.06395844 eval_time:6718ms
Serialized model: 135417533 bytes
Code size (uncompressed): 157868 bytes
Code size (compressed): 31999 bytes
GPTQ:collecting Hessians from calibration data...
GPTQ:collected 67 Hessians in 4.7s
Serialized model quantized+pergroup: 15865260 bytes
Total submission size quantized+pergroup: 15897259 bytes
diagnostic quantized val_loss:2.34727563 val_bpb:1.07254371 eval_time:49995ms
quantized_ttt_phased val_loss:2.31944212 val_bpb:1.05989454 eval_time:508785ms
total_eval_time:508.8s
"""


def status(rows) -> dict[str, str]:
    return {r.key: r.status for r in rows}


def reason(rows, key) -> str:
    return next(r.reason for r in rows if r.key == key)


def record(root: Path, name: str, log: str = GOOD_LOG, code_bytes: int = 100_000, tokenizer: Path | None = None):
    d = root / name
    d.mkdir()
    (d / "train_seed42.log").write_text(log)
    (d / "train_gpt.py").write_bytes(b"#" * code_bytes)
    (d / "submission.json").write_text(json.dumps({"val_bpb": 1.0599, "seed_results": {"42": {"val_bpb": 1.0599}}}))
    if tokenizer is not None:
        (d / "tokenizers").mkdir()
        shutil.copy(tokenizer, d / "tokenizers" / CASEOPS)
    return d


@pytest.fixture(scope="module")
def no_space_tokenizer(tmp_path_factory, docs) -> Path:
    """A tokenizer trained on text without spaces: no '▁' piece (the #897 failure)."""
    from pgolf.data.tokenizer import train_tokenizer

    prefix = tmp_path_factory.mktemp("tok897") / "nospace"
    with pytest.raises(PgolfError, match="no standalone '▁' piece"):  # pgolf's own trainer refuses to ship it
        train_tokenizer(["".join(d.split()) for d in docs], 400, prefix, num_threads=2)
    return Path(f"{prefix}.model")


def test_the_log_reader_on_the_1855_lines():
    f = parse_log(GOOD_LOG, "train_seed42.log")
    assert (f.seed, f.final_bpb, f.final_loss, f.train_ms, f.hessian_s) == ("42", 1.05989454, 2.31944212, 590000.0, 4.7)
    assert (f.model_bytes, f.code_bytes, f.code_counted, f.total_bytes) == (15865260, 31999, "compressed", 15897259)
    assert (f.val_tokens, f.train_shards, f.total_eval_s, f.eval_s) == (47851520, 80, 508.8, 508.8)
    assert f.eval_parts_s == [6.718, 49.995, 508.785] and f.tokenizer.endswith(CASEOPS)


def test_good_record_passes_every_row_it_can_read(tmp_path, tokenizer_path):
    rows, notes = check(record(tmp_path, "good", tokenizer=tokenizer_path))
    assert [r.key for r in rows] == list(ROWS) and notes == []
    assert status(rows) == {"artifact": "pass", "train_time": "pass", "eval_time": "pass",
                            "eval_end_to_end": "unknown", "val_tokens": "pass", "train_shards": "pass",
                            "overlap": "unknown", "ttt_score_first": "unknown", "tokenizer": "pass"}
    assert "15,865,260 + code 100,000 (train_gpt.py) = 15,965,260" in reason(rows, "artifact")
    assert "594.7 s" in reason(rows, "train_time")
    assert "565.5 s" in reason(rows, "eval_end_to_end")  # 6.7 + 50.0 + 508.8 logged; decompression is not


@pytest.mark.parametrize("row,edit,why", [
    ("artifact", {"code_bytes": 157_868}, "16,023,128 > 16,000,000; the log counts code 31,999 (compressed wrapper)"),
    ("train_time", ("590000ms step", "596000ms step"), "596.0 s + GPTQ Hessians on training data 4.7 s = 600.7 s"),
    ("eval_time", ("total_eval_time:508.8s", "total_eval_time:601.2s"), "total_eval_time 601.2 s > 600"),
    ("eval_end_to_end", ("eval_time:49995ms", "eval_time:95000ms"), "alone take 610.5 s > 600"),
    ("val_tokens", ("val_tokens: 47851520", "val_tokens: 9662464"), "short by 38,189,056"),
    ("train_shards", ("train_shards: 80", "train_shards: 1499"), "#2127"),
    ("tokenizer", "no-space", "no standalone '▁' piece"),
])
def test_each_row_fails_on_a_record_crafted_to_break_it(tmp_path, tokenizer_path, no_space_tokenizer, row, edit,
                                                         why):
    log, code, tok = GOOD_LOG, 100_000, tokenizer_path
    if isinstance(edit, tuple):
        assert edit[0] in log
        log = log.replace(*edit)
    elif edit == "no-space":
        tok = no_space_tokenizer
    else:
        code = edit["code_bytes"]
    rows, _ = check(record(tmp_path, "bad", log, code, tok))
    failed = [r.key for r in rows if r.status == "fail"]
    # a timed eval over 600 s is also an end-to-end eval over 600 s
    assert failed == ([row, "eval_end_to_end"] if row == "eval_time" else [row]) and why in reason(rows, row)


def test_calibration_on_generated_data_is_not_training_time(tmp_path):
    log = GOOD_LOG.replace("590000ms step", "596000ms step").replace(
        "GPTQ:collecting Hessians from calibration data...", "GPTQ:calibration on autoregressive self-generated data")
    rows, _ = check(record(tmp_path, "ar", log))
    assert status(rows)["train_time"] == "pass" and "not on training data" in reason(rows, "train_time")


def test_canonical_counts_are_the_published_ones():
    assert CANONICAL_VAL_TOKENS["caseops_sp8192"] == (47_851_520, 47_853_343)  # SPEC_FRONTIER §1.2
    assert CANONICAL_VAL_TOKENS["sp8192"] == (40_540_160,) and CANONICAL_VAL_TOKENS["sp1024"] == (62_021_632,)


# ---- pgolf runs ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(shard_dir, tokenizer_path, tmp_path_factory) -> Path:
    from pgolf.recipes import get_recipe
    from pgolf.train.run import run

    cfg = override(get_recipe("tiny").build(), {
        "model.vocab_size": 512, "data.path": str(shard_dir), "data.tokenizer": str(tokenizer_path),
        "train.iterations": 4, "train.batch_tokens": 4 * 256, "eval.max_tokens": 2048, "eval.batch_tokens": 2048,
        "train.device": "cpu", "quant.gptq.batches": 1, "eval.ttt.epochs": 1, "eval.ttt.chunk_tokens": 256,
    })
    out = tmp_path_factory.mktemp("run") / "r"
    run(cfg, out, recipe="tiny", echo=False)
    return out


def variant_of(run: Path, tmp: Path, changes: dict | None = None, summary: dict | None = None,
               log_line: str | None = None) -> Path:
    """A copy of the run with config keys changed (its summary's config_hash kept consistent) or summary edits."""
    out = Path(shutil.copytree(run, tmp / "variant"))
    s = json.loads((out / "summary.json").read_text())
    if changes:
        cfg = override(from_dict(Config, json.loads((out / "config.json").read_text())), changes)
        (out / "config.json").write_text(json.dumps(to_dict(cfg)))
        s["config_hash"] = config_hash(cfg)
    s.update(summary or {})
    (out / "summary.json").write_text(json.dumps(s))
    if log_line:
        with open(out / "train.log", "a") as f:
            f.write(log_line + "\n")
    return out


def test_tiny_run_rows(run_dir):
    rows, _ = check(run_dir)
    st = status(rows)
    assert st["artifact"] == st["train_time"] == st["eval_time"] == st["eval_end_to_end"] == "pass"
    assert st["ttt_score_first"] == "pass" and "unchanged" in reason(rows, "ttt_score_first")
    assert st["tokenizer"] == "pass" and st["train_shards"] == "pass"
    assert st["val_tokens"] == "fail" and "prefix of the val split" in reason(rows, "val_tokens")  # eval.max_tokens
    assert st["overlap"] == "unknown"  # the fixture's shards have no manifest


def test_run_rows_fail_on_crafted_runs(run_dir, tmp_path, no_space_tokenizer, shard_dir, monkeypatch):
    # the TTT self-test has its own tests (above and below); here it would only repeat the same seconds of CPU
    monkeypatch.setattr(check_run, "_ttt", lambda run: check_run.Row("ttt_score_first", "pass", "skipped"))

    def rows_of(**kw):
        d = variant_of(run_dir, tmp_path, **kw)
        try:
            return check(d)[0]
        finally:
            shutil.rmtree(d)

    s = json.loads((run_dir / "summary.json").read_text())
    r = rows_of(summary={"code_bytes": 16_000_001 - s["model_bytes"]})
    assert status(r)["artifact"] == "fail" and "16,000,001 > 16,000,000" in reason(r, "artifact")
    r = rows_of(summary={"train_seconds": 597.0},
                log_line="gptq calibration (train): 9 Hessians from 1,024 tokens | data 1.5 s + hooks 2.0 s")
    assert status(r)["train_time"] == "fail" and "600.5 s > 600" in reason(r, "train_time")
    r = rows_of(summary={"eval_seconds": 600.5})
    assert status(r)["eval_time"] == status(r)["eval_end_to_end"] == "fail"
    r = rows_of(changes={"data.tokenizer": str(no_space_tokenizer)})
    assert status(r)["tokenizer"] == "fail"

    data = tmp_path / "fineweb10B_sp1024"  # a challenge-named data dir: 1499 train shards, a manifest with overlap
    shutil.copytree(shard_dir, data)
    for i in range(2, 1499):
        (data / f"fineweb_train_{i:06d}.bin").symlink_to(shard_dir / "fineweb_train_000000.bin")
    (data / "manifest.json").write_text(json.dumps({"overlap_check": {"method": "blake2b-128 of each document's "
                                                                                "text", "val_train_duplicates": 3}}))
    r = rows_of(changes={"data.path": str(data)}, summary={"eval_partial": False, "scored_tokens": 62_021_000})
    assert status(r)["train_shards"] == "fail" and "1499 train shards" in reason(r, "train_shards")
    assert status(r)["overlap"] == "fail" and "3 train document(s)" in reason(r, "overlap")
    assert status(r)["val_tokens"] == "fail" and "short by 632" in reason(r, "val_tokens")


def test_pgolf_export_folder_is_checked_from_its_logs_and_submission_json(run_dir, tmp_path):
    out = tmp_path / "rec"
    export([run_dir], out, log=lambda _: None, date="2026-05-01T00:00:00Z")
    rows, _ = check(out)
    s = json.loads((run_dir / "summary.json").read_text())
    code = (out / "train_gpt.py").stat().st_size
    assert status(rows)["artifact"] == "pass" and f"{s['model_bytes'] + code:,}" in reason(rows, "artifact")
    assert status(rows)["train_time"] == status(rows)["eval_time"] == status(rows)["eval_end_to_end"] == "pass"
    assert f"{s['eval_seconds']:.1f} s" in reason(rows, "eval_time")
    assert "2,048 val tokens" in reason(rows, "val_tokens")  # the run scored a 2,048-token prefix
    assert status(rows)["tokenizer"] == "unknown"  # an export folder does not ship the tokenizer


def test_ttt_self_test_fails_a_ttt_that_trains_before_scoring(run_dir, monkeypatch):
    """A crafted cheat: before chunk 0 is scored, the adapter trains on every chunk (pre-scoring TTT, #1376 style)."""

    honest = ttt_mod.score_first

    def cheat(stream, chunks, ledger, score, adapt):
        for k, wins in enumerate(chunks):
            ledger.commit(wins)  # lie to the ledger, then adapt on chunks not yet scored
            adapt(Released(ScoredChunk(k, list(wins)), stream, ledger))
        yield from honest(stream, chunks, ledger, score, lambda released: None)

    monkeypatch.setattr(ttt_mod, "score_first", cheat)
    rows, _ = check(run_dir)
    assert status(rows)["ttt_score_first"] == "fail" and "used tokens before scoring" in reason(rows,
                                                                                               "ttt_score_first")


def test_cli_table_json_and_exit_status(tmp_path, tokenizer_path, capsys):
    good = record(tmp_path, "good", tokenizer=tokenizer_path)
    assert main(["check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "UNKNOWN" in out and "6 pass | 0 fail | 3 unknown" in out
    bad = record(tmp_path, "bad", GOOD_LOG.replace("train_shards: 80", "train_shards: 1499"))
    assert main(["check", str(bad), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["status"] for r in rows if r["key"] == "train_shards"] == ["fail"]
    assert main(["check", str(tmp_path / "nothing")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_a_caseops_rebuild_with_other_shard_counts_is_unknown_not_pass(tmp_path):
    rows, _ = check(record(tmp_path, "rebuild", GOOD_LOG.replace("train_shards: 80", "train_shards: 1502")))
    assert status(rows)["train_shards"] == "unknown" and "a partial download or a local rebuild" in reason(rows, "train_shards")


def test_shipped_code_follows_the_files_train_gpt_names(tmp_path):
    from pgolf.lab.check_record import shipped_code

    d = record(tmp_path, "code", code_bytes=0)
    (d / "train_gpt.py").write_text("from online_ngram_tilt import tilt\n")
    (d / "online_ngram_tilt.py").write_text("SRC = 'online_ngram_state.c'\n")
    (d / "online_ngram_state.c").write_text("int x;\n")
    (d / "prepare_caseops_data.py").write_text("# data prep, not named by the script\n")
    n, names = shipped_code(d)
    assert names == ["train_gpt.py", "online_ngram_tilt.py", "online_ngram_state.c"]
    assert n == sum((d / x).stat().st_size for x in names)
