"""The bundled train_gpt.py honours the challenge README's environment variables (pgolf.runtime.challenge_env):
DATA_PATH, TOKENIZER_PATH, VOCAB_SIZE, SEED, RUN_ID and the budget/iteration ones; flags win, conflicts are one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pgolf.config import override
from pgolf.runtime.challenge_env import ENV_KEYS, challenge_overrides, merge_with_flags
from pgolf.train.shipped import shipped_code


def test_mapping_of_the_challenge_variables():
    env = {"DATA_PATH": "/d", "TOKENIZER_PATH": "/t.model", "VOCAB_SIZE": "1024", "SEED": "42", "RUN_ID": "r1",
           "ITERATIONS": "7", "MAX_WALLCLOCK_SECONDS": "0", "NUM_LAYERS": "3", "HOME": "/root", "WARMDOWN_ITERS": ""}
    keys, run_id = challenge_overrides(env)
    assert keys == {"data.path": "/d", "data.tokenizer": "/t.model", "model.vocab_size": "1024", "train.seed": "42",
                    "train.iterations": "7", "train.max_wallclock_seconds": "0"}  # no model shape, no empty values
    assert run_id == "r1" and challenge_overrides({}) == ({}, None)
    assert set(ENV_KEYS.values()) <= {"data.path", "data.tokenizer", "model.vocab_size"} | {
        k for k in ENV_KEYS.values() if k.startswith(("train.", "schedule.", "eval."))}


def test_flags_win_and_a_conflict_is_one_line():
    merged, note = merge_with_flags({"data.path": "/env", "train.seed": "1"}, {"data.path": "/flag", "train.seed": "1"})
    assert merged == {"data.path": "/flag", "train.seed": "1"}
    assert note == "environment overridden by flags: DATA_PATH=/env (flag data.path=/flag wins)"
    assert merge_with_flags({"train.seed": "1"}, {}) == ({"train.seed": "1"}, None)


def test_bundle_reads_the_environment_as_reviewers_run_it(tiny_cfg, tmp_path):
    import pgolf

    script = tmp_path / "train_gpt.py"
    script.write_bytes(shipped_code(override(tiny_cfg, {"train.iterations": 4}), "tiny"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tmp_path / "none"),
           "DATA_PATH": tiny_cfg.data.path, "TOKENIZER_PATH": tiny_cfg.data.tokenizer, "SEED": "42",
           "ITERATIONS": "3", "RUN_ID": "rid"}
    assert getattr(pgolf, "__file__", None)  # (the bundle never imports this package: PYTHONPATH has no pgolf)

    def dry(*args):
        return subprocess.run([sys.executable, str(script), "--dry-run", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)

    r = dry()
    assert r.returncode == 0 and r.stderr == "", r.stderr[-2000:]
    t = json.loads(r.stdout)["config"]
    assert (t["data"]["path"], t["data"]["tokenizer"]) == (tiny_cfg.data.path, tiny_cfg.data.tokenizer)
    assert (t["train"]["seed"], t["train"]["iterations"]) == (42, 3)
    r = dry("--data", str(tmp_path), "train.seed=7")
    assert r.returncode == 0 and len(r.stderr.splitlines()) == 1
    assert "DATA_PATH=" in r.stderr and "SEED=42 (flag train.seed=7 wins)" in r.stderr
    t = json.loads(r.stdout)["config"]
    assert (t["data"]["path"], t["train"]["seed"]) == (str(tmp_path), 7)
