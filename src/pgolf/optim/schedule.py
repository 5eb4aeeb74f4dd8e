"""Schedules as pure functions of (step, elapsed seconds): the seeds' warmdowns, the frontier's fraction warmdown,
a min-LR floor, momentum warmup and a weight-decay taper.

Seeds (SPEC_SEEDS.md §1.4), kept exactly:
  wallclock warmdown: step_s = elapsed/step; warmdown_s = warmdown_iters·step_s; remaining = max(cap − elapsed, 0);
    scale = remaining/warmdown_s when remaining ≤ warmdown_s, else 1 — the LR reaches 0 exactly at the cap;
  iteration warmdown: scale = (iterations − step)/warmdown_iters over the last warmdown_iters steps;
  momentum warmup: μ = (1 − f)·μ_start + f·μ_end with f = min(step/N, 1).
Frontier (SPEC_FRONTIER.md §3.4; PR #1787, #1729), on progress p = max(step/iterations, elapsed/cap):
  fraction warmdown: scale = (1 − p)/warmdown_frac once p ≥ 1 − warmdown_frac, else 1;
  min-LR floor: scale ← max(scale, min_lr) (every mode; 0 = off, the seeds);
  WD taper: wd × 1 until p = start_frac, then linearly to final_mult at p = 1 (#1729, on Muon's WD).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class WDTaperConfig:
    """Weight-decay taper (#1729): full WD until progress `start_frac`, then linear to `final_mult`× at the end."""

    start_frac: float = 0.70
    final_mult: float = 0.50
    groups: tuple[str, ...] = ("muon",)  # routing groups whose weight decay is tapered


@dataclass(frozen=True)
class ScheduleConfig:
    """LR warmdown. `auto` is wallclock-based when train.max_wallclock_seconds > 0, else iteration-based;
    `fraction` decays over the last warmdown_frac of progress max(step/iterations, elapsed/cap)."""

    warmdown_iters: int = 1200
    warmdown_mode: Literal["auto", "wallclock", "iterations", "fraction"] = "auto"
    warmdown_frac: float = 0.0  # used by warmdown_mode=fraction
    min_lr: float = 0.0  # floor of the LR scale (#1787's MIN_LR); 0 = the seeds
    wd_taper: WDTaperConfig | None = None


def progress(step: int, elapsed_s: float, iterations: int, cap: float) -> float:
    """max(step/iterations, elapsed/cap): how far the run is, by whichever budget binds first (0 = no such budget;
    iterations and cap are train.iterations and train.max_wallclock_seconds)."""
    it = iterations
    p = step / it if it > 0 else 0.0
    return max(p, elapsed_s / cap) if cap > 0 else p


def _seed_scale(step: int, elapsed_s: float, s: ScheduleConfig, iterations: int, cap: float) -> float:
    wd = s.warmdown_iters
    if wd <= 0:
        return 1.0
    mode = s.warmdown_mode
    if mode == "wallclock" or (mode == "auto" and cap > 0):
        step_s = elapsed_s / max(step, 1)
        remaining = max(cap - elapsed_s, 0.0)
        warmdown_s = wd * step_s
        return remaining / max(warmdown_s, 1e-12) if remaining <= warmdown_s else 1.0
    it = iterations
    if max(it - wd, 0) <= step < it:
        return max((it - step) / max(wd, 1), 0.0)
    return 1.0


def lr_scale(step: int, elapsed_s: float, s: ScheduleConfig, iterations: int, cap: float) -> float:
    """The LR multiplier at `step` after `elapsed_s` seconds of a run of `iterations` steps / `cap` seconds."""
    if s.warmdown_mode == "fraction":
        p, f = progress(step, elapsed_s, iterations, cap), s.warmdown_frac
        scale = max((1.0 - p) / f, 0.0) if f > 0 and p >= 1.0 - f else 1.0
    else:
        scale = _seed_scale(step, elapsed_s, s, iterations, cap)
    return max(scale, s.min_lr)


def muon_momentum(step: int, momentum: float, warmup_start: float, warmup_steps: int) -> float:
    """Muon's momentum at `step`: warmup_start → momentum linearly over warmup_steps (optim.muon_momentum*)."""
    if warmup_steps <= 0:
        return momentum
    f = min(step / warmup_steps, 1.0)
    return (1 - f) * warmup_start + f * momentum


def wd_scale(step: int, elapsed_s: float, t: WDTaperConfig | None, iterations: int, cap: float) -> float:
    """Multiplier of the tapered groups' weight decay (1 without a taper block)."""
    if t is None:
        return 1.0
    p = progress(step, elapsed_s, iterations, cap)
    if p <= t.start_frac or t.start_frac >= 1.0:
        return 1.0
    f = min(max((p - t.start_frac) / (1.0 - t.start_frac), 0.0), 1.0)
    return 1.0 + (t.final_mult - 1.0) * f
