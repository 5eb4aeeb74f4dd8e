"""Step-count-bound schedules scaled with the run length, for `tiny` (issue 16).

A full recipe's averaging horizon and step-bound schedules are written for its real run (~7,000 steps for #1473 on
8xH100). Kept as they are in a 20-step `--tiny` run they mean something else: EMA 0.997 has a horizon of ~333 steps,
so after 30 steps the EMA weights are still mostly the initial ones (issue 16: last weights 3.026, EMA 3.650). Here
every such length keeps its *share of the run*: with r = tiny steps / full-run steps,

* `schedule.warmdown_iters` → round(w·r) (≥ 1, ≤ the run),
* `optim.muon_momentum_warmup_steps` → round(m·r) (≥ 1),
* `train.ema.decay` d → 1 − 1/max(r/(1 − d), 2): the horizon 1/(1 − d) scaled by r, at least two steps (d ≥ 0.5;
  the config requires d > 0) — #1473's 333 of ~6,900 steps is 1 step of 20, so the tiny EMA is d = 0.5,
* `train.swa.every` → round(e·r) (≥ 1); SWA starts by LR scale (`threshold`), which the warmdown above carries,
* `train.checkpoint.every` → round(c·r) (≥ 1).

The full-run length is the recipe's reported step count when known (a wallclock-capped recipe stops long before its
`train.iterations`), else its `train.iterations`. Fractions of progress (recurrence `enable_at`, WD taper
`start_frac`, late QAT `late_threshold` on the LR scale) already scale by themselves and are left alone.
"""

from __future__ import annotations

from pgolf.config import Config


def _steps(x: float) -> int:
    return max(1, round(x))


def ema_decay_for(decay: float, ratio: float) -> float:
    """The EMA decay whose horizon 1/(1 − d) is `ratio` times `decay`'s (never below two steps: d ≥ 0.5)."""
    horizon = max(ratio / (1.0 - decay), 2.0)
    return 1.0 - 1.0 / horizon


def scaled_schedules(cfg: Config, iterations: int, full_steps: int | None = None) -> dict:
    """Override dict that maps `cfg`'s step-bound lengths onto a run of `iterations` steps."""
    full = full_steps or cfg.train.iterations
    r = iterations / max(full, 1)
    t = cfg.train
    changes = {
        "schedule.warmdown_iters": min(_steps(cfg.schedule.warmdown_iters * r), iterations),
        "optim.muon_momentum_warmup_steps": _steps(cfg.optim.muon_momentum_warmup_steps * r),
    }
    if t.ema is not None:
        changes["train.ema.decay"] = ema_decay_for(t.ema.decay, r)
    if t.swa is not None:
        changes["train.swa.every"] = _steps(t.swa.every * r)
    if t.checkpoint is not None:
        changes["train.checkpoint.every"] = _steps(t.checkpoint.every * r)
    return changes
