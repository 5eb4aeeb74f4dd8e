"""Compile priming restores the model, optimizers and loader exactly, so priming never changes the run."""

from __future__ import annotations

from pathlib import Path

import torch

from pgolf.config import override
from pgolf.data.loader import DistributedTokenLoader
from pgolf.optim.routing import build_optimizers
from pgolf.runtime.dist import init_runtime
from pgolf.train.loop import make_step_fn
from pgolf.train.priming import prime
from pgolf.train.run import build_model


def _setup(cfg):
    rt = init_runtime("cpu")
    model = build_model(cfg, rt)
    opts, _ = build_optimizers(model, cfg.optim, cfg.model.tie_embeddings)
    loader = DistributedTokenLoader(Path(cfg.data.path), 0, 1, rt.device, cfg.model.vocab_size)
    step = make_step_fn(model, None, opts, loader, cfg, rt, 1, list(model.parameters()))
    return model, opts, loader, step


def test_priming_restores_state_exactly(tiny_cfg):
    model, opts, loader, step = _setup(tiny_cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pos = dict(loader.state())
    prime(3, lambda i: step(i, 1.0), model, opts, loader)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert loader.state() == pos
    assert all(len(o.state) == 0 for o in opts)
    assert all(p.grad is None for p in model.parameters())


def test_primed_run_equals_unprimed_run(tiny_cfg):
    def train(primed: int):
        model, opts, loader, step = _setup(tiny_cfg)
        prime(primed, lambda i: step(i, 1.0), model, opts, loader)
        for i in range(4):
            step(i, 1.0)
        return model.state_dict()

    a, b = train(0), train(3)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # and training did something
    model, *_ = _setup(tiny_cfg)
    assert any(not torch.equal(a[k], v) for k, v in model.state_dict().items())


def test_restore_after_optimizer_state_exists(tiny_cfg):
    """Priming in the middle of training (state present) also restores exactly, incl. Muon momentum."""
    model, opts, loader, step = _setup(override(tiny_cfg, {}))
    step(0, 1.0)
    mom = {id(p): s["momentum_buffer"].clone() for o in opts for p, s in o.state.items() if "momentum_buffer" in s}
    assert mom
    prime(2, lambda i: step(i, 1.0), model, opts, loader)
    for o in opts:
        for p, s in o.state.items():
            if "momentum_buffer" in s:
                assert torch.equal(s["momentum_buffer"], mom[id(p)])
