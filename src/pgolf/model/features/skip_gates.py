"""Sigmoid-gated U-Net skips: each decoder slot blends its skip with the residual stream through a learned gate.

Idea: instead of adding the scaled encoder output, x ← x + w⊙skip, let a per-channel gate decide how much of the
stream to keep: x ← lerp(w⊙skip, x, σ(g)) = w⊙skip + σ(g)⊙(x − w⊙skip). Source: openai/parameter-golf #1855
(`SKIP_GATES_ENABLED=1`, `skip_gates` (n_skip, d) fp32, zero init; SPEC_FRONTIER.md §2 "sigmoid skip gates").

Invariants:
  * the gates sit beside the plain skip weights (`GPT.skip_weights`), one row per (encoder, decoder) virtual pair,
    so with recurrence the count is the looped schedule's (#1855: 8 × 512 = 4,096 params, scalar Adam, fp16/fp32
    passthrough at export: a control tensor);
  * zero init means σ(0) = ½: the first step already halves the stream and the skip — NOT the plain model at init
    (there is no zero-init identity for this feature; #1855 trains from this point);
  * with the parallel lanes the gated skip goes into lane0 only, as the plain one does;
  * per position, so causal. Off (block absent) = the plain additive skip, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SkipGateConfig:
    """σ(g)-gated U-Net skips (#1855); g per (skip, channel), initialised to `init` (0 → σ = ½)."""

    init: float = 0.0


def apply_skip(x: Tensor, skip: Tensor, weight: Tensor, gate: Tensor | None) -> Tensor:
    """x + w⊙skip (plain), or lerp(w⊙skip, x, σ(gate)) (gated); weight and gate are one (d,) row each."""
    scaled = weight.to(x.dtype) * skip
    if gate is None:
        return x + scaled
    return torch.lerp(scaled, x, torch.sigmoid(gate.to(x.dtype)))
