"""One transformer block with the seeds' residual controls.

x_in = m0⊙x + m1⊙x0 (`resid_mix`, init (1, 0), or #295's depth ramp via `pgolf.model.init`);
x ← x_in + attn_scale⊙Attn(RMSNorm(x_in)·s_l); x ← x + mlp_scale⊙MLP(RMSNorm(x)·s_l). attn_scale/mlp_scale are
per-channel, init 1. s_l = 1/√(l+1) with `model.ln_scale` (PRs #601, #1473; #443 code, off in its run), else 1.
(SPEC_SEEDS.md §0, §1.3.)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pgolf.model.attention import CausalSelfAttention
from pgolf.model.config import ModelConfig
from pgolf.model.layers import rms_norm
from pgolf.model.mlp import MLP


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int, kernel: str = "sdpa"):
        super().__init__()
        d = cfg.model_dim
        self.layer = layer
        self.attn = CausalSelfAttention(cfg, layer, kernel)
        self.mlp = MLP(d, cfg.mlp_mult, cfg.mlp_activation, cfg.mlp_leaky_slope)
        self.attn_scale = nn.Parameter(torch.ones(d, dtype=torch.float32))
        self.mlp_scale = nn.Parameter(torch.ones(d, dtype=torch.float32))
        self.resid_mix = nn.Parameter(torch.stack((torch.ones(d), torch.zeros(d))).float())
        self.ln_scale = 1.0 / math.sqrt(layer + 1) if cfg.ln_scale else None

    def forward(self, x: Tensor, x0: Tensor, ve: Tensor | None = None, v0: Tensor | None = None,
                cu_seqlens: Tensor | None = None, max_seqlen: int = 0) -> tuple[Tensor, Tensor]:
        """→ (new x, the attention's raw V); cu_seqlens/max_seqlen: document-isolated attention (features/varlen)."""
        mix = self.resid_mix.to(x.dtype)
        x = mix[0] * x + mix[1] * x0
        h = rms_norm(x)
        if self.ln_scale is not None:
            h = h * self.ln_scale
        # varlen only when given, so stand-ins for attention.forward (quant/generate.py's KV cache) keep working
        kw = {} if cu_seqlens is None else {"cu_seqlens": cu_seqlens, "max_seqlen": max_seqlen}
        a, v = self.attn(h, ve, v0, **kw)
        x = x + self.attn_scale.to(x.dtype) * a
        h = rms_norm(x)
        if self.ln_scale is not None:
            h = h * self.ln_scale
        x = x + self.mlp_scale.to(x.dtype) * self.mlp(h)
        return x, v
