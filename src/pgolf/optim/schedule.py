"""Schedules as pure functions of (step, elapsed seconds) — the seeds' formulas (SPEC_SEEDS.md §1.4).

Wallclock warmdown: step_ms = elapsed/step; warmdown_ms = warmdown_iters·step_ms; remaining = max(cap − elapsed, 0);
scale = remaining/warmdown_ms when remaining ≤ warmdown_ms, else 1 — the LR reaches 0 exactly at the cap.
Iteration warmdown: scale = (iterations − step)/warmdown_iters over the last warmdown_iters steps.
Momentum warmup: μ = (1 − f)·μ_start + f·μ_end with f = min(step/N, 1).
"""

from __future__ import annotations

from pgolf.config import Config


def lr_scale(step: int, elapsed_s: float, cfg: Config) -> float:
    wd = cfg.schedule.warmdown_iters
    if wd <= 0:
        return 1.0
    cap = cfg.train.max_wallclock_seconds
    mode = cfg.schedule.warmdown_mode
    if mode == "wallclock" or (mode == "auto" and cap > 0):
        step_s = elapsed_s / max(step, 1)
        remaining = max(cap - elapsed_s, 0.0)
        warmdown_s = wd * step_s
        return remaining / max(warmdown_s, 1e-12) if remaining <= warmdown_s else 1.0
    it = cfg.train.iterations
    if max(it - wd, 0) <= step < it:
        return max((it - step) / max(wd, 1), 0.0)
    return 1.0


def muon_momentum(step: int, cfg: Config) -> float:
    o = cfg.optim
    if o.muon_momentum_warmup_steps <= 0:
        return o.muon_momentum
    f = min(step / o.muon_momentum_warmup_steps, 1.0)
    return (1 - f) * o.muon_momentum_warmup_start + f * o.muon_momentum
