"""Attention output gates: a per-token, per-head sigmoid gate on the attention output, computed from the block input.

Idea: let each head switch itself off where it has nothing useful to add. Two kinds (`model.attn_gate.kind`):

* "dense" (the seeds' default): source arXiv 2505.06708 (Qiu et al.), as used by PR #601 (README: −0.003 BPB on top
  of value residual); SPEC_SEEDS.md §1.3. gate_{t,h} = sigmoid(W_g x_t + b_g), x_t the attention input (normed and
  LN-scaled), W_g ∈ R^{H×d} zero-init, b_g = `bias_init` 4.0 (gate ≈ 0.982 at init). A very large bias is the plain
  model. It is a plain `nn.Linear` (not CastedLinear), as in the seed: under the seeds' CUDA precision its weight
  stays bf16; the weight is routed to Muon, the bias to scalar Adam.
  Names (the seed's): blocks.{i}.attn.attn_gate.weight / .bias. Params: H·d + H per layer (#601: 4,104 per layer).
* "sparse" (SparseAttnGate, modded-nanogpt pattern via PR #1787, used by #1855; SPEC_FRONTIER.md §2.4):
  gate_{t,h} = sigmoid(s · W_h · x_t[:window]), only the first `window` (12) channels of the same normed input,
  W ∈ R^{H×window} zero-init so the gate starts at exactly 0.5 (the block's attn_scale absorbs the halving), no bias,
  s = `scale` (#1855: 0.5; #1787: 1.0). Name: blocks.{i}.attn.attn_gate_w (the frontier's; fp32, scalar Adam through
  the "attn_gate_w" control pattern; exported int8 per row, one scale per head, by every quant table).
  Params: H·window per layer (96 at H=8), ~44 KB less than dense in #1787's count.

Both act per position, so they are causal; y_{t,h} ← gate_{t,h}·y_{t,h} after XSA, before W_o. Every forward that
runs attention through `CausalSelfAttention.output` (training, eval, LoRA TTT hooks, the KV-cache twin) applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class AttnGateConfig:
    """Per-head sigmoid output gate: dense (zero weight, bias 4.0; #601) or sparse (first `window` dims; #1787)."""

    kind: Literal["dense", "sparse"] = "dense"
    bias_init: float = 4.0  # dense only
    window: int = 12  # sparse only: the gate reads x[..., :window] (must be ≤ model_dim)
    scale: float = 0.5  # sparse only: s in sigmoid(s·W·x) (#1855 0.5, #1787 1.0)


def make_attn_gate(cfg: AttnGateConfig, dim: int, num_heads: int) -> nn.Linear:
    gate = nn.Linear(dim, num_heads, bias=True)
    nn.init.zeros_(gate.weight)
    nn.init.constant_(gate.bias, cfg.bias_init)
    return gate


def apply_attn_gate(y: Tensor, x: Tensor, gate: nn.Linear) -> Tensor:
    """y (B, T, H, D) scaled by sigmoid(gate(x)) (B, T, H)."""
    g = torch.sigmoid(F.linear(x, gate.weight.to(x.dtype), gate.bias.to(x.dtype)))
    return y * g[..., None]


def make_sparse_attn_gate(cfg: AttnGateConfig, num_heads: int) -> nn.Parameter:
    """W (H, window), fp32, zero-init: the gate is exactly 0.5 everywhere at init."""
    return nn.Parameter(torch.zeros(num_heads, cfg.window, dtype=torch.float32))


def apply_sparse_attn_gate(y: Tensor, x: Tensor, w: Tensor, scale: float) -> Tensor:
    """y (B, T, H, D) scaled by sigmoid(scale · x[..., :window] Wᵀ) (B, T, H)."""
    g = torch.sigmoid(scale * F.linear(x[..., : w.shape[1]], w.to(x.dtype)))
    return y * g[..., None]
