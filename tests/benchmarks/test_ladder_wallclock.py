"""benchmarks/ladder_wallclock.py (equal-wallclock step budgets from measured step-time ratios) and the per-recipe
config of benchmarks/proxy_ladder.py, against hand-computed numbers; nothing here trains."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


wc = load("ladder_wallclock")


def test_ms_per_step_leaves_out_the_first_step():
    elapsed = [7.0, 8.0, 9.5, 10.5]  # step 1 took 7 s (set-up), then 1.0, 1.5, 1.0 s
    assert wc.ms_per_step(elapsed) == pytest.approx(3500.0 / 3)
    assert wc.ms_per_step(elapsed, skip=0) == pytest.approx(10500.0 / 4)
    assert wc.ms_per_step(elapsed, skip=2) == pytest.approx(1250.0)
    with pytest.raises(ValueError):
        wc.ms_per_step([7.0])


def test_rotated_orders_put_every_recipe_in_every_position():
    assert wc.rotated_orders(["a", "b", "c"], 4) == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"],
                                                     ["a", "b", "c"]]


def test_wallclock_steps_from_ratios():
    # budget = 300 steps × 100 ms = 30 s of the fastest: 30 s / 150 ms = 200, 30 s / 250 ms = 120
    assert wc.wallclock_steps({"a": 100.0, "b": 150.0, "c": 250.0}, 300) == {"a": 300, "b": 200, "c": 120}
    # 100 × 300 / 700 = 42.86 → 43; a recipe 1000× slower still trains one step
    assert wc.wallclock_steps({"x": 300.0, "y": 700.0, "z": 300_000.0}, 100) == {"x": 100, "y": 43, "z": 1}
    # only ratios matter: the same machine twice as slow gives the same steps
    assert wc.wallclock_steps({"a": 200.0, "b": 300.0, "c": 500.0}, 300) == {"a": 300, "b": 200, "c": 120}
    assert wc.median_ms({"a": [3.0, 1.0, 2.0], "b": [4.0, 6.0]}) == {"a": 2.0, "b": 5.0}


def test_measure_interleaves_and_reads_metrics(tmp_path):
    step_s = {"a": 0.1, "b": 0.3}
    calls = []

    def train(name, steps, out):
        calls.append(name)
        out.mkdir(parents=True)
        t = [5.0 + step_s[name] * i for i in range(steps)]  # step 1 at 5 s, then step_s[name] per step
        lines = [json.dumps({"step": i + 1, "loss": 1.0, "elapsed_s": e}) for i, e in enumerate(t)]
        (out / "metrics.jsonl").write_text("\n".join([*lines, json.dumps({"step": steps, "val_bpb": 2.0})]) + "\n")
        return out

    got = wc.measure(["a", "b"], 3, train, 6, tmp_path, lambda m: None)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert {k: [round(x, 6) for x in v] for k, v in got.items()} == {"a": [100.0] * 3, "b": [300.0] * 3}
    assert wc.wallclock_steps(wc.median_ms(got), 90) == {"a": 90, "b": 30}


def test_ladder_config_bounds_ttt_identically(tmp_path):
    pl = load("proxy_ladder")
    a = argparse.Namespace(data=tmp_path, tokenizer=tmp_path / "t.model", warmdown=100, batch_tokens=2048, seed=1,
                           eval_tokens=65_536, ttt_batch_docs=16, ttt_prefix_docs=48, ttt_phase_chunk=2048, overrides=["train.log_every=7"])
    c1473, c1855, c2135 = (pl.ladder_config(n, 200, a) for n in ("pr1473", "pr1855", "pr2135"))
    assert c1473.eval.ttt is None
    for c in (c1855, c2135):
        assert (c.eval.ttt.lora.batch_docs, c.eval.ttt.phased.prefix_docs, c.eval.ttt.phased.chunk_tokens) == (
            16, 48, 2048)
        assert (c.eval.max_tokens, c.eval.stride, c.eval.seq_len, c.train.seq_len) == (65_536, 0, 0, 256)
    assert (c1855.eval.ttt.phased.num_phases, c2135.eval.ttt.phased.num_phases) == (3, 1)
    assert c1855.eval.ttt.tilt is None and c2135.eval.ttt.tilt is not None
    for c in (c1473, c1855, c2135):
        assert (c.train.iterations, c.schedule.warmdown_iters, c.train.log_every) == (200, 100, 7)
        assert (c.data.path, c.train.batch_tokens, c.model.num_layers) == (str(tmp_path), 2048, 4)
    own = pl.ladder_config("pr1855", 200, argparse.Namespace(**{**vars(a), "warmdown": 0}))
    assert (own.schedule.warmdown_mode, own.schedule.warmdown_frac) == ("fraction", 0.85)  # the recipe's own
    light = pl.ladder_config("pr2135", 12, a, {**wc.LIGHT, "train.log_every": 1})
    assert light.eval.ttt is None and light.quant.gptq is None and light.artifact.pergroup is None
    assert (light.train.iterations, light.schedule.warmdown_iters, light.train.log_every) == (12, 12, 1)
