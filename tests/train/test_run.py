"""An end-to-end tiny run on CPU: summary.json is complete and consistent, the artifact evaluates the same."""

from __future__ import annotations

import json

from pgolf.artifact.model_file import load_model
from pgolf.cli import main
from pgolf.config import override
from pgolf.train.run import run

KEYS = {"val_bpb", "val_bpb_prequant", "val_loss", "artifact_bytes", "model_bytes", "code_bytes", "params", "steps",
        "train_seconds", "eval_seconds", "artifact_path", "recipe", "config", "scored_tokens", "scored_bytes"}


def test_tiny_run_summary_is_consistent(tiny_cfg, tmp_path):
    s = run(tiny_cfg, tmp_path, recipe="tiny", echo=False)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert KEYS <= set(on_disk) and on_disk["val_bpb"] == s["val_bpb"]
    assert s["artifact_bytes"] == s["model_bytes"] + s["code_bytes"] <= 16_000_000
    assert s["model_bytes"] == (tmp_path / "model.pga").stat().st_size
    assert s["steps"] == tiny_cfg.train.iterations and s["stopped_by"] == "iterations"
    assert 0 < s["val_bpb"] < 20 and abs(s["val_bpb"] - s["val_bpb_prequant"]) < 0.05
    assert s["scored_tokens"] == 4096 and s["eval_partial"] is True
    assert s["config"]["model"]["vocab_size"] == 512
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len([json.loads(x) for x in lines if '"loss"' in x]) == tiny_cfg.train.iterations
    assert "step 6/6 | loss" in (tmp_path / "train.log").read_text()


def test_training_reduces_loss(tiny_cfg, tmp_path):
    cfg = override(tiny_cfg, {"train.iterations": 30, "schedule.warmdown_iters": 10})
    run(cfg, tmp_path, echo=False)
    losses = [json.loads(x)["loss"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert sum(losses[-5:]) / 5 < losses[0] - 0.5


def test_eval_cli_matches_summary(tiny_cfg, tmp_path, capsys):
    s = run(tiny_cfg, tmp_path / "r", echo=False)
    rc = main(["eval", str(tmp_path / "r" / "model.pga"), "--data", tiny_cfg.data.path, "--tokenizer",
               tiny_cfg.data.tokenizer, "--seq-len", "256", "--max-tokens", "4096", "--json", "--device", "cpu"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert abs(out["val_bpb"] - s["val_bpb"]) < 1e-9 and out["scored_bytes"] == s["scored_bytes"]
    model, _ = load_model(tmp_path / "r" / "model.pga")
    assert sum(p.numel() for p in model.parameters()) == s["params"]


def test_wallclock_cap_stops_training(tiny_cfg, tmp_path):
    cfg = override(tiny_cfg, {"train.iterations": 10_000, "train.max_wallclock_seconds": 1.0,
                              "schedule.warmdown_iters": 3, "train.log_every": 1000})
    s = run(cfg, tmp_path, echo=False)
    assert s["stopped_by"] == "wallclock" and 1 <= s["steps"] < 10_000 and s["train_seconds"] >= 1.0


def test_over_budget_is_an_error_after_summary(tiny_cfg, tmp_path, capsys):
    cfg = override(tiny_cfg, {"artifact.max_bytes": 1000})
    import pytest

    from pgolf.errors import PgolfError

    with pytest.raises(PgolfError, match="over the 1,000-byte cap"):
        run(cfg, tmp_path, echo=False)
    assert json.loads((tmp_path / "summary.json").read_text())["within_budget"] is False
