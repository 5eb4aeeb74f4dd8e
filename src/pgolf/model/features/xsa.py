"""Exclusive Self-Attention (XSA): remove from each head's output its component along the token's own value.

Idea: attention output should carry context, not a copy of the token's own value. Source: arXiv 2603.09078 (Zhai)
as used by PRs #443 (code, off in its run), #601 (last 4 layers) and #1473 (all 11 layers); SPEC_SEEDS.md §1.3.

Maths: for query head h at position i, with v_i the value vector (same position) of the KV head h shares under GQA
(h // (H/Hkv)) and v̂_i = v_i/‖v_i‖: y_i ← y_i − (y_i·v̂_i) v̂_i. Parameter-free, applied before W_o; the V used is
the one attention used (after value-residual mixing / value-embedding addition). Per position, so causal.
`exclusive_self_attention` is the grouped (no repeat_interleave) form; the tests check it against a per-head loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class XSAConfig:
    """Exclusive self-attention on a layer set (`pgolf.model.layersets` spec)."""

    layers: str = "all"


def exclusive_self_attention(y: Tensor, v: Tensor) -> Tensor:
    """y (B, T, H, D) attention output, v (B, T, Hkv, D) values → y minus its projection on v̂ of its KV head."""
    B, T, H, D = y.shape
    hkv = v.size(2)
    y_g = y.reshape(B, T, hkv, H // hkv, D)
    vn = F.normalize(v, dim=-1).unsqueeze(-2)
    return (y_g - (y_g * vn).sum(dim=-1, keepdim=True) * vn).reshape(B, T, H, D)
