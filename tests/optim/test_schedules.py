"""Schedules equal the seeds' and the frontier's formulas (written out here) at chosen points."""

from __future__ import annotations

import pytest

from pgolf.config import Config, override
from pgolf.errors import PgolfError
from pgolf.optim.schedule import lr_scale, muon_momentum, progress, wd_scale


def _sched(cfg, with_block=True):
    """The schedule functions' explicit arguments from a whole config: (block,) iterations, wallclock cap."""
    budget = (cfg.train.iterations, cfg.train.max_wallclock_seconds)
    return (cfg.schedule, *budget) if with_block else budget


def _mom(cfg):
    o = cfg.optim
    return o.muon_momentum, o.muon_momentum_warmup_start, o.muon_momentum_warmup_steps


def seed_wallclock(step, elapsed_ms, warmdown_iters, cap_ms):
    """#198/#295/#443/#1473 lr_mul with a wallclock cap (SPEC_SEEDS.md §1.4)."""
    step_ms = elapsed_ms / max(step, 1)
    warmdown_ms = warmdown_iters * step_ms
    remaining = max(cap_ms - elapsed_ms, 0.0)
    return remaining / max(warmdown_ms, 1e-9) if remaining <= warmdown_ms else 1.0


def frontier_lr(frac, warmdown_frac, min_lr):
    """#1787 lr_mul(frac)."""
    if frac >= 1.0 - warmdown_frac:
        return max((1.0 - frac) / warmdown_frac, min_lr)
    return 1.0


def taper_1729(frac, start, final_mult):
    if frac <= start:
        return 1.0
    return 1.0 + (final_mult - 1.0) * min(max((frac - start) / (1.0 - start), 0.0), 1.0)


@pytest.mark.parametrize("step,elapsed", [(1, 0.1), (3000, 250.0), (4400, 357.0), (6000, 500.0), (7412, 599.9),
                                          (7500, 600.0), (7600, 612.0)])
def test_wallclock_warmdown_is_the_seeds_formula(step, elapsed):
    cfg = override(Config(), {"schedule.warmdown_iters": 3000, "train.iterations": 9000})
    assert lr_scale(step, elapsed, *_sched(cfg)) == pytest.approx(seed_wallclock(step, 1000 * elapsed, 3000, 600_000))


def test_fraction_warmdown_and_min_lr_are_1787s():
    cfg = override(Config(), {"schedule.warmdown_mode": "fraction", "schedule.warmdown_frac": 0.85,
                              "schedule.min_lr": 0.1, "train.iterations": 20_000})
    for elapsed in (0.0, 60.0, 90.0, 300.0, 500.0, 580.0, 600.0, 650.0):
        frac = elapsed / 600.0
        assert lr_scale(10, elapsed, *_sched(cfg)) == pytest.approx(frontier_lr(frac, 0.85, 0.1))
    # without a cap, progress is step/iterations
    it = override(cfg, {"train.max_wallclock_seconds": 0})
    assert progress(5000, 1e9, *_sched(it, False)) == 0.25
    assert lr_scale(15_000, 1e9, *_sched(it)) == pytest.approx(frontier_lr(0.75, 0.85, 0.1))


def test_progress_is_the_binding_budget():
    cfg = override(Config(), {"train.iterations": 1000, "train.max_wallclock_seconds": 100.0})
    assert progress(100, 50.0, *_sched(cfg, False)) == 0.5  # time binds
    assert progress(800, 50.0, *_sched(cfg, False)) == 0.8  # steps bind


def test_min_lr_floors_the_seed_warmdowns_too():
    cfg = override(Config(), {"train.max_wallclock_seconds": 0, "train.iterations": 100,
                              "schedule.warmdown_iters": 50, "schedule.min_lr": 0.2})
    assert lr_scale(60, 0, *_sched(cfg)) == pytest.approx(0.8)
    assert lr_scale(95, 0, *_sched(cfg)) == pytest.approx(0.2)
    assert lr_scale(40, 0, *_sched(cfg)) == 1.0


def test_wd_taper_is_1729s():
    cfg = override(Config(), {"schedule.wd_taper": "on", "train.max_wallclock_seconds": 600.0})
    for elapsed in (0.0, 400.0, 420.0, 500.0, 599.0, 600.0, 700.0):
        assert wd_scale(1, elapsed, cfg.schedule.wd_taper, *_sched(cfg, False)) == pytest.approx(taper_1729(elapsed / 600, 0.7, 0.5))
    assert wd_scale(1, 599.0, Config().schedule.wd_taper, *_sched(Config(), False)) == 1.0  # no block, no taper


def test_momentum_warmup_of_the_seeds():
    cfg = override(Config(), {"optim.muon_momentum": 0.99, "optim.muon_momentum_warmup_start": 0.92,
                              "optim.muon_momentum_warmup_steps": 1500})
    for step in (0, 1, 750, 1499, 1500, 9000):
        f = min(step / 1500, 1.0)
        assert muon_momentum(step, *_mom(cfg)) == pytest.approx((1 - f) * 0.92 + f * 0.99)


def test_schedule_fields_are_validated():
    from pgolf.config import validate

    with pytest.raises(PgolfError, match="schedule.warmdown_frac"):
        validate(override(Config(), {"schedule.warmdown_mode": "fraction"}))
    with pytest.raises(PgolfError, match="optim.muon_ns_steps"):
        validate(override(Config(), {"optim.muon_ns": "polar_express", "optim.muon_ns_steps": 7}))


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
