"""Gated attention: a per-token, per-head sigmoid gate on the attention output, computed from the block input.

Idea: let each head switch itself off where it has nothing useful to add. Source: arXiv 2505.06708 (Qiu et al.), as
used by PR #601 (README: −0.003 BPB on top of value residual); SPEC_SEEDS.md §1.3.

Maths: gate_{t,h} = sigmoid(W_g x_t + b_g), x_t the attention input (normed and LN-scaled), W_g ∈ R^{H×d} zero-init,
b_g = 4.0 (gate ≈ 0.982 at init); y_{t,h} ← gate_{t,h}·y_{t,h} before W_o (after XSA). A very large bias is the plain
model. Per position, so causal. It is a plain `nn.Linear` (not CastedLinear), as in the seed: under the seeds' CUDA
precision its weight stays bf16; the weight is routed to Muon, the bias to scalar Adam.

Parameter names (kept from the seed): blocks.{i}.attn.attn_gate.weight, blocks.{i}.attn.attn_gate.bias.
Params: H·d + H per layer (#601: 4,104 per layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class AttnGateConfig:
    """Per-head sigmoid output gate (zero weight, bias init 4.0)."""

    bias_init: float = 4.0


def make_attn_gate(cfg: AttnGateConfig, dim: int, num_heads: int) -> nn.Linear:
    gate = nn.Linear(dim, num_heads, bias=True)
    nn.init.zeros_(gate.weight)
    nn.init.constant_(gate.bias, cfg.bias_init)
    return gate


def apply_attn_gate(y: Tensor, x: Tensor, gate: nn.Linear) -> Tensor:
    """y (B, T, H, D) scaled by sigmoid(gate(x)) (B, T, H)."""
    g = torch.sigmoid(F.linear(x, gate.weight.to(x.dtype), gate.bias.to(x.dtype)))
    return y * g[..., None]
