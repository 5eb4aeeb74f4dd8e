"""`pgolf bench` on CPU: the numbers are consistent with each other and with the config; bad input is one line."""

from __future__ import annotations

import json

import pytest

from pgolf.cli import main
from pgolf.config import override
from pgolf.lab.bench import SyntheticBatches, format_table, run_bench
from pgolf.model.flops import model_flops
from pgolf.recipes import get_recipe, tiny
from pgolf.runtime.log import duration, eta_seconds, step_line


def small_cfg(name: str = "tiny"):
    return override(tiny(get_recipe(name).build()), {"train.device": "cpu", "train.batch_tokens": 2 * 256})


@pytest.mark.parametrize("name", ["tiny", "pr1473"])  # pr1473: sharded Muon's gradient sync on one rank
def test_bench_numbers_agree(name):
    cfg = small_cfg(name)
    r = run_bench(cfg, steps=2, split_steps=1)
    assert r["device"] == "cpu" and not r["compile"] and r["world_size"] == 1
    assert r["tokens_per_s"] == pytest.approx(cfg.train.batch_tokens / (r["ms_per_step"] / 1000))
    assert r["ms_per_step_min"] <= r["ms_per_step"] <= r["ms_per_step_max"]
    f = model_flops(cfg.model, cfg.train.seq_len)
    assert r["flops_per_token"] == f.train("full") / cfg.train.seq_len
    assert r["flops_per_token_causal"] < r["flops_per_token"]
    assert r["model_flops_per_s"] == pytest.approx(r["flops_per_token"] * r["tokens_per_s"])
    assert r["mfu"] is None and r["peak_device"] is None  # CPU: FLOP/s only
    assert r["graph_breaks"] == 0 and r["recompiles"] == 0 and r["graphs_compiled"] == 0  # eager: dynamo idle
    assert min(r["forward_ms"], r["backward_ms"], r["optimizer_ms"]) > 0
    assert r["peak_memory_bytes"] > 0 and r["peak_memory_kind"] == "process peak RSS"
    table = format_table(r, "t")
    for row in ("ms/step", "tokens/s", "FLOPs/token", "MFU", "peak memory", "graph breaks", "recompiles", "split"):
        assert row in table
    assert "attention full" in table and "n/a" in table


def test_synthetic_batches_have_the_loader_shape():
    x, y = SyntheticBatches(64, "cpu").next_batch(4 * 32, 32, 2)
    assert x.shape == y.shape == (2, 32) and int(x.max()) < 64
    assert (x[:, 1:] == y[:, :-1]).all()  # y is x shifted by one, as the real loaders give it


def test_bench_cli_json_and_bad_steps(capsys):
    assert main(["bench", "--recipe", "tiny", "--tiny", "--steps", "1", "--json", "train.batch_tokens=512"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["recipe"] == "tiny" and r["steps"] == 1 and r["tokens_per_step"] == 512
    assert main(["bench", "--recipe", "tiny", "--steps", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--steps" in err[0]


def test_step_line_eta_and_mfu():
    # 100 steps left at 0.5 s/step = 50 s, but the 600 s cap leaves only 30 s
    assert eta_seconds(900, 1000, 0.5, 570.0, 600.0) == 30.0
    assert eta_seconds(900, 1000, 0.5, 10.0, 0.0) == 50.0
    assert eta_seconds(1000, 1000, 0.5, 700.0, 600.0) == 0.0
    assert [duration(s) for s in (42, 496, 3720)] == ["42s", "8m16s", "1h02m"]
    line = step_line(1200, 20000, 2.914, 0.83, 87, 6.0e6, 104, 600, eta_s=496, mfu=0.412)
    assert line == "step 1200/20000 | loss 2.914 | lr×0.83 | 87 ms/step | 6.0M tok/s | 104/600 s | eta 8m16s | MFU 41.2%"
