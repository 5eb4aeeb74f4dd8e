"""A run killed mid-way and started again resumes from its checkpoint and ends bitwise where an uninterrupted run
ends (same artifact bytes), with weight averaging, late QAT, clipping, weight decay and its taper switched on."""

from __future__ import annotations

import json

import pytest
import torch

from pgolf.config import override
from pgolf.errors import PgolfError
from pgolf.runtime.dist import Runtime
from pgolf.train import checkpoint as ckpt_mod
from pgolf.train.checkpoint import CheckpointConfig, Checkpointer, Resumable
from pgolf.train.run import run


class Killed(Exception):
    pass


def _kill_after(monkeypatch, at_step: int, extra_batches: int) -> None:
    """Let the checkpoint of `at_step` be written, then die `extra_batches` micro-batches later (mid-step)."""
    original = ckpt_mod.Checkpointer.save

    def save(self, step, elapsed, parts):
        path = original(self, step, elapsed, parts)
        if step == at_step:
            left = [extra_batches]
            inner = parts.loader.next_batch

            def dying(*a, **k):
                if left[0] == 0:
                    raise Killed(f"killed after checkpoint {step}")
                left[0] -= 1
                return inner(*a, **k)

            parts.loader.next_batch = dying
        return path

    monkeypatch.setattr(ckpt_mod.Checkpointer, "save", save)


def _resume_equals_uninterrupted(cfg, tmp_path, monkeypatch, at_step=3, extra=2):
    full = run(cfg, tmp_path / "full", echo=False)
    with monkeypatch.context() as m:
        _kill_after(m, at_step, extra)
        with pytest.raises(Killed):
            run(cfg, tmp_path / "killed", echo=False)
    killed = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert killed["status"] == "failed" and killed["reason"].startswith("Killed: killed after checkpoint")
    assert "run failed: Killed: killed after checkpoint" in (tmp_path / "killed" / "train.log").read_text()
    resumed = run(cfg, tmp_path / "killed", echo=False)
    log = (tmp_path / "killed" / "train.log").read_text()
    assert f"at step {at_step}" in log.split("resumed from")[1].splitlines()[0]
    assert (tmp_path / "full" / "model.pga").read_bytes() == (tmp_path / "killed" / "model.pga").read_bytes()
    assert resumed["val_bpb"] == full["val_bpb"] and resumed["steps"] == full["steps"] == cfg.train.iterations
    assert resumed["val_bpb_prequant"] == full["val_bpb_prequant"]
    return full, log


def test_killed_tiny_run_resumes_bitwise(tiny_cfg, tmp_path, monkeypatch):
    """EMA, late QAT (on before the checkpoint), global-norm clipping, WD with its taper, Polar Express, and the
    sharded-Muon path (per-rank optimizer files); killed mid-step after the step-4 checkpoint."""
    cfg = override(tiny_cfg, {
        "train.iterations": 6, "schedule.warmdown_iters": 5, "train.checkpoint.every": 2,
        "train.ema.decay": 0.8, "train.qat.late_threshold": 0.9, "train.qat.bits": "blocks=6",
        "train.qat.scale": "absmax_floor", "optim.grad_clip_norm": 0.3, "optim.muon_wd": 0.04,
        "optim.adam_wd": 0.04, "schedule.wd_taper": "on", "optim.muon_ns": "polar_express",
        "train.distribution": "sharded",
    })
    full, log = _resume_equals_uninterrupted(cfg, tmp_path, monkeypatch, at_step=4, extra=1)
    assert "QAT on at step 2" in (tmp_path / "full" / "train.log").read_text()  # on before the checkpoint
    assert full["averaging"] == "ema" and full["val_bpb_last_weights"] != full["val_bpb_prequant"]
    assert json.loads((tmp_path / "killed" / "checkpoints" / "latest.json").read_text())["step"] == 4
    assert sorted(p.name for p in (tmp_path / "killed" / "checkpoints").glob("step_*")) == ["step_0000004"]


def test_resume_refuses_another_config_or_world(tmp_path):
    model = torch.nn.Linear(3, 3)
    parts = Resumable(model, [torch.optim.SGD(model.parameters(), lr=0.1)], _Loader())
    rt = Runtime(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), distributed=False)
    ck = Checkpointer(CheckpointConfig(every=1), tmp_path, rt, "aaaa")
    assert ck.load(parts) is None  # nothing saved yet: a fresh start
    ck.save(5, 12.5, parts)
    assert ck.load(parts) == (5, 12.5)
    with pytest.raises(PgolfError, match="checkpoint of config aaaa, this run is bbbb"):
        Checkpointer(CheckpointConfig(every=1), tmp_path, rt, "bbbb").load(parts)
    two = Runtime(rank=0, world_size=2, local_rank=0, device=torch.device("cpu"), distributed=False)
    with pytest.raises(PgolfError, match="written by 1 ranks, this run has 2"):
        Checkpointer(CheckpointConfig(every=1), tmp_path, two, "aaaa").load(parts)


class _Loader:
    def __init__(self):
        self.pos = 7

    def state(self):
        return {"pos": self.pos}

    def load_state(self, s):
        self.pos = s["pos"]


def test_pr198_tiny_resumes_bitwise(tiny_cfg, tmp_path, monkeypatch):
    from pgolf.recipes import REGISTRY, tiny

    if "pr198" not in REGISTRY:
        pytest.skip("the pr198 recipe is not registered on this branch yet")
    cfg = override(tiny(REGISTRY["pr198"].build()), {
        k: getattr_path(tiny_cfg, k) for k in ("model.vocab_size", "data.path", "data.tokenizer", "train.batch_tokens",
                                                "eval.max_tokens", "eval.batch_tokens", "train.device")})
    cfg = override(cfg, {"train.iterations": 8, "train.checkpoint.every": 3, "train.log_every": 1})
    _resume_equals_uninterrupted(cfg, tmp_path, monkeypatch, at_step=3, extra=2)


def getattr_path(cfg, key: str):
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg
