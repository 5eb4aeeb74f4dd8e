"""Weight averaging applied before export: EMA (an fp32 shadow) or SWA (fp32 sums of late snapshots) — one of them.

EMA (#601, #1473; SPEC_SEEDS.md §1.5): after every optimizer step, ema ← d·ema + (1 − d)·w for every float tensor of
the state dict, in fp32 on the training device, started from the post-priming initial weights; d = 0.997 (a horizon
of ~333 steps). At the end the shadow, cast to each tensor's dtype, replaces the weights.
SWA (#198, #295, #443): after step s, when the LR scale of that step was < `threshold` and s % `every` == 0, the
weights are added to a running sum; at the end sum/count replaces the weights if count > 1 (the seeds' rule).
Unlike the seeds (bf16 sums for bf16 tables, SPEC_SEEDS.md §6.14) every sum is fp32 and stays on the device.
Both are state (`state_dict()`/`load_state_dict()`) for checkpoints; neither touches the weights before `apply()`.
Bytes added to the artifact: none (the averaged weights are exported instead of the last ones).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class EMAConfig:
    """Exponential moving average of the weights (fp32 shadow), loaded before export."""

    decay: float = 0.997


@dataclass(frozen=True)
class SWAConfig:
    """Stochastic weight averaging: sum a snapshot after every `every`-th step whose LR scale is < `threshold`."""

    every: int = 50
    threshold: float = 0.4  # #198 used 0.5 (every 200); #295/#443 0.4 (every 50)


def _float_items(model: nn.Module) -> list[tuple[str, Tensor]]:
    return [(k, v) for k, v in model.state_dict().items() if v.is_floating_point()]


class EMA:
    kind = "ema"

    def __init__(self, model: nn.Module, cfg: EMAConfig):
        self.decay = cfg.decay
        self.names = [k for k, _ in _float_items(model)]
        self.shadow = [v.detach().float().clone() for _, v in _float_items(model)]

    @torch.no_grad()
    def update(self, model: nn.Module, step: int, lr_scale: float) -> bool:
        d = self.decay
        live = [v.detach().float() for _, v in _float_items(model)]
        torch._foreach_mul_(self.shadow, d)
        torch._foreach_add_(self.shadow, live, alpha=1.0 - d)
        return False

    def averaged(self) -> dict[str, Tensor]:
        return dict(zip(self.names, self.shadow))

    def ready(self) -> bool:
        return True

    def describe(self) -> str:
        return f"EMA decay {self.decay} (fp32 shadow of {len(self.names)} tensors)"

    def state_dict(self) -> dict:
        return {"kind": self.kind, "shadow": dict(zip(self.names, self.shadow))}

    def load_state_dict(self, state: dict) -> None:
        self.shadow = [state["shadow"][k].to(s.device).float().clone() for k, s in zip(self.names, self.shadow)]


class SWA:
    kind = "swa"

    def __init__(self, model: nn.Module, cfg: SWAConfig):
        self.every, self.threshold = cfg.every, cfg.threshold
        self.names = [k for k, _ in _float_items(model)]
        self.sums: list[Tensor] | None = None
        self.count = 0

    @torch.no_grad()
    def update(self, model: nn.Module, step: int, lr_scale: float) -> bool:
        """Called after optimizer step `step` (1-based) taken at `lr_scale`; → True on the first snapshot."""
        if not (lr_scale < self.threshold and step % self.every == 0):
            return False
        live = [v.detach().float() for _, v in _float_items(model)]
        if self.sums is None:
            self.sums = [t.clone() for t in live]
        else:
            torch._foreach_add_(self.sums, live)
        self.count += 1
        return self.count == 1

    def averaged(self) -> dict[str, Tensor]:
        assert self.sums is not None
        return {k: s / self.count for k, s in zip(self.names, self.sums)}

    def ready(self) -> bool:
        return self.count > 1

    def describe(self) -> str:
        return f"SWA every {self.every} steps once lr scale < {self.threshold} (fp32 sums)"

    def state_dict(self) -> dict:
        sums = None if self.sums is None else dict(zip(self.names, self.sums))
        return {"kind": self.kind, "count": self.count, "sums": sums}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        self.sums = None if state["sums"] is None else [state["sums"][k].float().clone() for k in self.names]


def build_averager(model: nn.Module, ema: EMAConfig | None, swa: SWAConfig | None) -> EMA | SWA | None:
    if ema is not None and swa is not None:
        raise ValueError("at most one of EMA and SWA")
    if ema is not None:
        return EMA(model, ema)
    if swa is not None:
        return SWA(model, swa)
    return None


@torch.no_grad()
def apply_average(model: nn.Module, averager: EMA | SWA) -> bool:
    """Load the averaged weights (cast to each tensor's dtype) into the model; → False if SWA has < 2 snapshots."""
    if not averager.ready():
        return False
    sd = model.state_dict()
    for k, v in averager.averaged().items():
        sd[k].copy_(v.to(sd[k].dtype))
    return True
