"""SmearGate: blend each position's embedding with the previous position's, through a learned per-channel gate.

Idea: a soft, continuous bigram context at ~d parameters. Source: PR #162 (@unnir) via all five seeds
(SPEC_SEEDS.md §1.2).

Maths: g = sigmoid(gate) ∈ (0, 1)^d (gate init 0 → g = 0.5); x_t ← (1 − g)⊙x_t + g⊙x_{t−1}, with x_{−1} = 0 at
position 0 of each sequence. Applied after the embedding RMSNorm; its output is x0 for the residual mixing.
Causal by construction (t only sees t−1).

BOS-aware option (`reset_at_bos`, off in every seed): x_{t−1} is replaced by 0 where token t is BOS, so the first
position of a document never sees the previous document (the seeds leak it; a later leaderboard entry calls the fix
"BOS-fixed SmearGate").

Parameter name (kept from the seeds): smear.gate (a control tensor: fp32, scalar Adam). Params: d.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class SmearGateConfig:
    """Per-channel gated blend with the previous position (gate init 0 → 50/50)."""

    gate_init: float = 0.0
    reset_at_bos: bool = False  # BOS positions do not see the previous position (no cross-document leak)


class SmearGate(nn.Module):
    def __init__(self, cfg: SmearGateConfig, dim: int, bos_id: int):
        super().__init__()
        self.bos_id = bos_id if cfg.reset_at_bos else None
        self.gate = nn.Parameter(torch.full((dim,), cfg.gate_init, dtype=torch.float32))

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        g = torch.sigmoid(self.gate.to(x.dtype))[None, None, :]
        x_prev = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)
        if self.bos_id is not None:
            x_prev = x_prev.masked_fill((tokens == self.bos_id)[..., None], 0.0)
        return (1 - g) * x + g * x_prev
