"""SmearGate: add a gated share of the previous position's embedding to each position. Two kinds
(`model.smear_gate.kind`):

* "seed" (all five seeds; PR #162 by @unnir; SPEC_SEEDS.md §1.2): a soft, continuous bigram context at ~d
  parameters. g = sigmoid(gate) ∈ (0, 1)^d (gate init 0 → g = 0.5); x_t ← (1 − g)⊙x_t + g⊙x_{t−1}, with x_{−1} = 0
  at position 0 of each sequence. Applied AFTER the embedding RMSNorm; its output is x0 for the residual mixing.
  Name (the seeds'): smear.gate (a control tensor: fp32, scalar Adam). Params: d.
* "gated" (modded-nanogpt / @classiclarryd via PR #1667, BOS fix #1851/#1855; SPEC_FRONTIER.md §2.5): input-dependent,
  x_t ← x_t + λ·σ(w·x_t[:window])·x_{t−1}·1[tok_t ≠ BOS] for t ≥ 1 (position 0 unchanged), w ∈ R^window (12) and the
  scalar λ zero-init, so it is the identity at init. Applied to the raw embedding (tok_emb, + BigramHash if on)
  BEFORE the first RMSNorm, as #1855's `_forward_hidden` does. Names: smear.gate_w (window,), smear.lam (1,): both
  1-D, so fp32 and scalar Adam under every routing table. Params: window + 1.

Both are causal by construction (t only sees t−1).

BOS mask (`reset_at_bos`): x_{t−1} is dropped where token t is BOS, so the first position of a document never sees
the previous document. None = the kind's default: off for "seed" (every seed leaks; kept bit-identical), on for
"gated" — #1797's unmasked headline was biased by +0.00255 bpb and was blocked; #1851/#1855 were accepted with the
mask (#2135 later turned it off again by env var: set reset_at_bos=false to reproduce that leaky path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class SmearGateConfig:
    """Look-back to the previous position: the seeds' per-channel 50/50 blend, or #1855's gated one (identity init)."""

    kind: Literal["seed", "gated"] = "seed"
    gate_init: float = 0.0  # seed only
    reset_at_bos: bool | None = None  # BOS positions do not see the previous one; None = off (seed) / on (gated)
    window: int = 12  # gated only: the gate reads x_t[:window] (must be ≤ model_dim)


def bos_reset(cfg: SmearGateConfig) -> bool:
    return cfg.kind == "gated" if cfg.reset_at_bos is None else cfg.reset_at_bos


class SmearGate(nn.Module):
    def __init__(self, cfg: SmearGateConfig, dim: int, bos_id: int):
        super().__init__()
        self.before_norm = False  # applied after the embedding RMSNorm (the seeds)
        self.bos_id = bos_id if bos_reset(cfg) else None
        self.gate = nn.Parameter(torch.full((dim,), cfg.gate_init, dtype=torch.float32))

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        g = torch.sigmoid(self.gate.to(x.dtype))[None, None, :]
        x_prev = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)
        if self.bos_id is not None:
            x_prev = x_prev.masked_fill((tokens == self.bos_id)[..., None], 0.0)
        return (1 - g) * x + g * x_prev


class GatedSmearGate(nn.Module):
    def __init__(self, cfg: SmearGateConfig, bos_id: int):
        super().__init__()
        self.before_norm = True  # applied to the raw embedding, before the first RMSNorm (#1855)
        self.bos_id = bos_id if bos_reset(cfg) else None
        self.gate_w = nn.Parameter(torch.zeros(cfg.window, dtype=torch.float32))
        self.lam = nn.Parameter(torch.zeros(1, dtype=torch.float32))

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        cur, w = x[:, 1:], self.gate_w.to(x.dtype)
        g = self.lam.to(x.dtype) * torch.sigmoid(F.linear(cur[..., : w.numel()], w[None]))  # (B, T-1, 1)
        prev = x[:, :-1]
        if self.bos_id is not None:
            prev = prev.masked_fill((tokens[:, 1:] == self.bos_id)[..., None], 0.0)
        return torch.cat([x[:, :1], cur + g * prev], dim=1)


def make_smear_gate(cfg: SmearGateConfig, dim: int, bos_id: int) -> SmearGate | GatedSmearGate:
    return GatedSmearGate(cfg, bos_id) if cfg.kind == "gated" else SmearGate(cfg, dim, bos_id)
