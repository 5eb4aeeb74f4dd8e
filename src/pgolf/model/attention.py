"""Causal self-attention of the baseline: GQA, QK RMSNorm, RoPE, per-head q_gain, zero-init output projection.

q = W_q x, k = W_k x, v = W_v x reshaped to (B, H, T, D) and (B, Hkv, T, D); q, k get a parameter-free RMSNorm
over D, then RoPE, then q ← q·q_gain[h] (init 1.5); causal SDPA with the default 1/√D scale; W_o (zero init).
Source: the challenge's naive baseline (openai/parameter-golf `train_gpt.py`), SPEC_SEEDS.md §1.3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.model.layers import CastedLinear, Rotary, rms_norm, zero_init


def causal_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """q (B, H, T, D), k/v (B, Hkv, T, D) → (B, H, T, D); PyTorch SDPA with native GQA."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=k.size(1) != q.size(1))


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, num_kv_heads: int, rope_base: float, qk_gain_init: float):
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = dim // num_heads
        kv_dim = num_kv_heads * self.head_dim
        self.c_q = CastedLinear(dim, dim, bias=False)
        self.c_k = CastedLinear(dim, kv_dim, bias=False)
        self.c_v = CastedLinear(dim, kv_dim, bias=False)
        self.proj = zero_init(CastedLinear(dim, dim, bias=False))
        self.q_gain = nn.Parameter(torch.full((num_heads,), qk_gain_init, dtype=torch.float32))
        self.rotary = Rotary(self.head_dim, base=rope_base)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        q = self.c_q(x).reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.c_k(x).reshape(B, T, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.c_v(x).reshape(B, T, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = rms_norm(q), rms_norm(k)
        cos, sin = self.rotary.cos_sin(T, x.device, q.dtype)
        q, k = self.rotary(q, cos, sin), self.rotary(k, cos, sin)
        q = q * self.q_gain.to(q.dtype)[None, :, None, None]
        y = causal_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))
