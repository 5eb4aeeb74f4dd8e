"""Schedules against the seeds' formulas, Muon's NS orthogonality and update, routing coverage, loader spans."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgolf.config import Config, override
from pgolf.data.loader import DistributedTokenLoader
from pgolf.data.shards import write_shard
from pgolf.model.gpt import GPT
from pgolf.optim.muon import Muon, newton_schulz5
from pgolf.optim.routing import baseline_rules, route
from pgolf.optim.schedule import lr_scale, muon_momentum


def _sched(cfg, with_block=True):
    """The schedule functions' explicit arguments from a whole config: (block,) iterations, wallclock cap."""
    budget = (cfg.train.iterations, cfg.train.max_wallclock_seconds)
    return (cfg.schedule, *budget) if with_block else budget


def _mom(cfg):
    o = cfg.optim
    return o.muon_momentum, o.muon_momentum_warmup_start, o.muon_momentum_warmup_steps


def test_wallclock_warmdown_formula():
    cfg = Config()  # warmdown 1200 steps, cap 600 s
    # 100 ms/step: warmdown lasts 120 s, starts at 480 s
    assert lr_scale(4000, 400.0, *_sched(cfg)) == 1.0
    assert lr_scale(5000, 500.0, *_sched(cfg)) == pytest.approx(100.0 / 120.0)
    assert lr_scale(5900, 590.0, *_sched(cfg)) == pytest.approx(10.0 / 120.0)
    assert lr_scale(6000, 600.0, *_sched(cfg)) == 0.0
    assert lr_scale(7000, 700.0, *_sched(cfg)) == 0.0


def test_iteration_warmdown_formula():
    cfg = override(Config(), {"train.max_wallclock_seconds": 0, "train.iterations": 9500,
                              "schedule.warmdown_iters": 3500})
    assert lr_scale(5999, 1e9, *_sched(cfg)) == 1.0
    assert lr_scale(6000, 0, *_sched(cfg)) == 1.0
    assert lr_scale(8976, 0, *_sched(cfg)) == pytest.approx(524 / 3500) and lr_scale(8976, 0, *_sched(cfg)) < 0.15
    assert lr_scale(8975, 0, *_sched(cfg)) == pytest.approx(0.15)  # #601's late QAT step (SPEC_SEEDS §1.4)


def test_momentum_warmup():
    cfg = Config()
    assert muon_momentum(0, *_mom(cfg)) == pytest.approx(0.85)
    assert muon_momentum(250, *_mom(cfg)) == pytest.approx(0.90)
    assert muon_momentum(500, *_mom(cfg)) == pytest.approx(0.95) == muon_momentum(10_000, *_mom(cfg))


@pytest.mark.parametrize("shape", [(64, 64), (128, 32), (32, 96)])
def test_newton_schulz_is_near_orthogonal(shape):
    torch.manual_seed(0)
    k = min(shape)
    U, _ = torch.linalg.qr(torch.randn(shape[0], k))
    V, _ = torch.linalg.qr(torch.randn(shape[1], k))
    G = U @ torch.diag(torch.linspace(0.05, 3.0, k)) @ V.T  # condition number 60 (5 NS steps handle ~1e2)
    X = newton_schulz5(G).float()
    small = min(shape)
    gram = X @ X.T if shape[0] <= shape[1] else X.T @ X
    s = torch.linalg.svdvals(X)
    assert gram.shape == (small, small)
    assert s.min() > 0.5 and s.max() < 1.3  # NS5's quintic lands singular values in ~[0.7, 1.2]


def test_muon_single_step_equals_direct_formula():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(48, 16))
    p0 = p.detach().clone()
    g = torch.randn(48, 16)
    p.grad = g.clone()
    opt = Muon([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.step()
    buf = g  # first step: buf = g
    u = newton_schulz5(g + 0.9 * buf).float() * (48 / 16) ** 0.5
    want = p0 * (1 - 0.1 * 0.5) - 0.1 * u.bfloat16().float()
    assert torch.allclose(p.detach(), want, atol=1e-6)


def test_routing_covers_every_parameter_once():
    cfg = override(Config(), {"model.tie_embeddings": False})
    with torch.device("meta"):
        model = GPT(cfg.model)
    groups = route(model, baseline_rules())
    names = [n for items in groups.values() for n, _ in items]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())
    assert {n for n, _ in groups["muon"]} == {n for n, p in model.named_parameters()
                                              if n.startswith("blocks.") and p.ndim == 2 and "resid_mix" not in n}
    assert [n for n, _ in groups["head"]] == ["lm_head.weight"]
    assert "skip_weights" in [n for n, _ in groups["scalar"]]


def test_global_batch_identical_across_world_sizes(tmp_path):
    write_shard(tmp_path / "fineweb_train_000000.bin", np.arange(3000, dtype=np.uint16) % 1000)
    write_shard(tmp_path / "fineweb_train_000001.bin", (np.arange(2000, dtype=np.uint16) * 7) % 1000)
    T, batch, total_accum = 16, 256, 4

    def global_batches(world: int, steps: int = 5):
        loaders = [DistributedTokenLoader(tmp_path, r, world, torch.device("cpu")) for r in range(world)]
        out = []
        for _ in range(steps):
            xs = []
            for _ in range(total_accum // world):
                xs.append(torch.cat([ld.next_batch(batch, T, total_accum // world)[0] for ld in loaders]))
            out.append(torch.cat(xs).sort(dim=0).values)
        return out

    ref = global_batches(1)
    for w in (2, 4):
        got = global_batches(w)
        # same set of token spans per step (order of micro-batches differs by design)
        for a, b in zip(ref, got):
            assert a.shape == b.shape
            assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, b.tolist()))
