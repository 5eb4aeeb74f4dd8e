"""benchmarks/gpu_session.py's device plan runs end to end on CPU with --smoke (env probe and the train-step
comparison of pgolf's pr1473 recipe against #1473's own model and optimizers, at tiny shapes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")


def test_gpu_session_smoke_runs_end_to_end_on_cpu(tmp_path, shard_dir):
    if not MIRROR.exists():
        pytest.skip("openai/parameter-golf mirror not available (#1473's script is read from it)")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "benchmarks/gpu_session.py", "run", "--smoke", "--only", "env,train_step",
                        "--data", str(shard_dir),
                        "--out", str(out), "--mirror", str(MIRROR)], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    results = {r["check"]: r for r in json.loads((out / "results.json").read_text())}
    assert set(results) == {"env", "train_step"} and all(r["rc"] == 0 for r in results.values())
    step = json.loads((out / "train_step.json").read_text())
    assert step["smoke"] and [r["side"] for r in step["rows"]] == ["pgolf", "#1473"]
    assert all(r["ms_per_step"] > 0 and r["loss_after_warmup"] > 0 for r in step["rows"])
    assert "| train_step | 0 |" in p.stdout
