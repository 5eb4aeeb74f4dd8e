"""benchmarks/gpu_session.py's #1855 parts on CPU with --smoke: the varlen check (pgolf's FA3-varlen call site,
with a per-segment SDPA stand-in, vs the masked path) and the train step of pgolf's pr1855 recipe against #1855's own
script (its GPT and optimizers; Triton and FA3 stood in for as in benchmarks/parity_frontier.py); and `prepare`
puts #1855's script beside the shards and prints the one device call."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")
needs_mirror = pytest.mark.skipif(not MIRROR.exists(), reason="openai/parameter-golf mirror not available")


@needs_mirror
def test_the_1855_checks_run_end_to_end_on_cpu(tmp_path, shard_dir):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "benchmarks/gpu_session.py", "run", "--smoke", "--only",
                        "varlen_check,train_step_1855", "--data", str(shard_dir), "--out", str(out), "--mirror",
                        str(MIRROR)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    results = {r["check"]: r for r in json.loads((out / "results.json").read_text())}
    assert set(results) == {"varlen_check", "train_step_1855"} and all(r["rc"] == 0 for r in results.values())
    assert any("fa3 vs masked (both bf16): max|Δlogit|" in f for f in results["varlen_check"]["figures"])
    step = json.loads((out / "train_step_1855.json").read_text())
    assert step["smoke"] and step["skipped"] == []
    assert [(r["looping"], r["side"]) for r in step["rows"]] == [("on", "pgolf"), ("on", "#1855"),
                                                                 ("off", "pgolf"), ("off", "#1855")]
    assert all(r["ms_per_step"] > 0 for r in step["rows"])
    # one warm-up step from the same weights on the same batch: both sides' first loss is the same number
    first = [r["loss_after_warmup"] for r in step["rows"] if r["looping"] == "on"]
    assert first[0] == pytest.approx(first[1], rel=1e-5)
    assert "| train_step_1855 | 0 |" in p.stdout


@needs_mirror
def test_prepare_carries_the_1855_script_and_prints_the_session_call(tmp_path, shard_dir, tokenizer_path):
    shared = tmp_path / "shared"
    shutil.copytree(shard_dir, shared / "data" / "gutenberg_sp1024")
    (shared / "tokenizers").mkdir()
    shutil.copy(tokenizer_path, shared / "tokenizers" / "fineweb_1024_bpe.model")
    work = tmp_path / "work"
    work.mkdir()
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_session.py"), "prepare", "--shared",
                        str(shared), "--mirror", str(MIRROR)], cwd=work, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    script = (work / ".devdata" / "pr1855_train_gpt.py").read_text()
    assert "class Optimizers" in script and "flash_attn_varlen_func" in script
    assert '--only session", carry=[".devdata"]' in p.stdout
