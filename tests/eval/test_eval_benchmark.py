"""benchmarks/eval_speed.py runs in its CPU-small modes, and its #198 comparison is exact where it must be."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest
from _evalkit import _threads  # noqa: F401 (autouse: one thread)

ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")
PR198 = ("refs/pull/198/head:records/track_10min_16mb/2026-03-20_11L_Int6_MLP3x_WD04_SmearBigram2k_1.1318/"
         "train_gpt.py")


def bench():
    spec = importlib.util.spec_from_file_location("eval_speed", ROOT / "benchmarks" / "eval_speed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_modes_table_runs_on_cpu(shard_dir, tokenizer_path, capsys):
    rows = bench().main(["modes", "--data", str(shard_dir), "--tokenizer", str(tokenizer_path), "--max-tokens",
                         "1024", "--seq-len", "64", "--stride", "16", "--ttt-chunk", "256", "--lora-docs", "4",
                         "--device", "cpu", "--batch-tokens", "2048"])
    assert len(rows) == 5 and {r["targets"] for r in rows} == {1024} and len({r["bytes"] for r in rows}) == 1
    assert "TTT LoRA chunk 16" in capsys.readouterr().out


def test_pr198_comparison_small_on_cpu(tmp_path, shard_dir, tokenizer_path):
    if not MIRROR.exists():
        pytest.skip("openai/parameter-golf mirror not available")
    script = tmp_path / "pr198.py"
    r = subprocess.run(["git", "-C", str(MIRROR), "show", PR198], capture_output=True, timeout=60)
    if r.returncode:
        pytest.skip("PR #198 head not in the mirror")
    script.write_bytes(r.stdout)
    out = bench().main(["pr198", "--small", "--pr198-script", str(script), "--data", str(shard_dir), "--tokenizer",
                        str(tokenizer_path), "--max-tokens", "4096", "--device", "cpu", "--batch-tokens", "4096",
                        "--repeats", "1"])
    assert out["logits_max_abs_diff"] < 1e-5  # the same function in both models
    # pgolf's scorer on #198's windows = #198's number, to fp32 rounding (pgolf's chunked
    # loss, pgolf.kernels.softcap_ce, rounds each NLL differently from F.cross_entropy)
    assert abs(out["pgolf_on_pr198_windows"]["bpb_diff"]) < 1e-8
    assert out["pgolf"]["scored_tokens"] == out["targets"] == 4096 < out["pr198"]["scored_tokens"]


def test_padding_table_never_pads_more_than_full_rows(shard_dir):
    rows = bench().main(["padding", "--data", str(shard_dir), "--seq-len", "64", "--stride", "16", "--batch-tokens",
                         "4096", "--world", "2", "--ttt-chunk", "512"])
    assert len(rows) == 5 and all(0.0 <= r["buckets"] <= r["full"] < 1.0 for r in rows)
