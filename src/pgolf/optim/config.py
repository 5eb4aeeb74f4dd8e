"""The optimizer and schedule blocks of the config tree (`optim`, `schedule`), owned by pgolf.optim.

`OptimConfig` feeds pgolf.optim.routing (the parameter → optimizer table) and muon.py; `ScheduleConfig` and
`WDTaperConfig` live beside the pure schedule functions of pgolf.optim.schedule (re-exported here). Composed by the root
`pgolf.config`; nothing here imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pgolf.optim.schedule import ScheduleConfig, WDTaperConfig


@dataclass(frozen=True)
class OptimConfig:
    """Muon on block matrices, Adam on embeddings and control tensors; `routing` names the seed's table."""

    matrix_lr: float = 0.04
    scalar_lr: float = 0.04
    tied_embed_lr: float = 0.05
    embed_lr: float = 0.6
    head_lr: float = 0.008
    muon_momentum: float = 0.95
    muon_momentum_warmup_start: float = 0.85
    muon_momentum_warmup_steps: int = 500
    muon_ns_steps: int = 5
    muon_wd: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.95)
    adam_eps: float = 1e-8
    adam_wd: float = 0.0
    grad_clip_norm: float = 0.0  # global L2 norm, after gradient reduction; 0 = off
    # parameter → optimizer table (pgolf.optim.routing.TABLES): the baseline's or a seed's split
    routing: Literal["baseline", "pr198", "pr295", "pr443", "pr601", "pr1473"] = "baseline"
    muon_ns: Literal["ns5", "polar_express"] = "ns5"  # Newton–Schulz coefficients (fixed NS5 | per-step PE)
    muon_row_norm: Literal["none", "after_ns", "before_ns"] = "none"  # #601 | MuonEq-R
    muon_nesterov: bool = True
    embed_wd: float | None = None  # weight decay of the token-embedding group; None = adam_wd


__all__ = ["OptimConfig", "ScheduleConfig", "WDTaperConfig", "optim_checks", "schedule_checks"]


def optim_checks(o: OptimConfig) -> list[tuple[bool, str, str]]:
    """(ok, key, message) rows of the optim block."""
    return [(o.muon_ns != "polar_express" or 1 <= o.muon_ns_steps <= 5, "optim.muon_ns_steps",
             "polar_express has 5 per-step tuples: must be in 1..5")]


def schedule_checks(s: ScheduleConfig) -> list[tuple[bool, str, str]]:
    """(ok, key, message) rows of the schedule block."""
    return [(s.warmdown_mode != "fraction" or 0 < s.warmdown_frac <= 1,
             "schedule.warmdown_frac", "must be in (0, 1] with warmdown_mode=fraction"),
            (0 <= s.min_lr <= 1, "schedule.min_lr", "must be in [0, 1]")]
