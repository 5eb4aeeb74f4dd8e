"""`pgolf demo` end to end with a short budget: builds the corpus from Python's own docs, trains, round-trips."""

from __future__ import annotations

import json

import numpy as np

from pgolf.cli import main
from pgolf.data.shards import read_shard


def test_demo_end_to_end_short(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PGOLF_CACHE", str(tmp_path / "cache"))
    rc = main(["demo", "--out", str(tmp_path / "run"), "train.iterations=6",
               "schedule.warmdown_iters=3", "eval.max_tokens=8192"])
    out = capsys.readouterr().out
    assert rc == 0 and "demo done" in out
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["recipe"] == "demo" and s["steps"] == 6 and s["stopped_by"] == "iterations" and s["val_bpb"] > 0
    assert "demo: training 6 steps" in out and "step 6/6 |" in out
    cache = next((tmp_path / "cache").glob("demo-*"))
    manifest = json.loads((cache / "manifest.json").read_text())
    val = read_shard(cache / "fineweb_val_000000.bin", 1024)
    assert manifest["val_tokens"] == val.size and manifest["docs"] > 300
    assert int(np.sum(val == 1)) == manifest["val_docs"]  # one BOS per document
    # the second call reuses the cache
    rc = main(["demo", "--out", str(tmp_path / "run2"), "train.iterations=6", "schedule.warmdown_iters=3",
               "eval.max_tokens=8192"])
    assert rc == 0 and "cached at" in capsys.readouterr().out
    again = json.loads((tmp_path / "run2" / "summary.json").read_text())
    assert again["val_bpb"] == s["val_bpb"]  # bounded by steps and seeded: the same number, whatever the load


def test_demo_is_bounded_by_steps():
    from pgolf.recipes import get_recipe

    t = get_recipe("demo").build().train
    assert t.max_wallclock_seconds == 0 and t.iterations == 300
