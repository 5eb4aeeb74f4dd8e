"""One transformer block with the baseline's residual controls.

x_in = m0⊙x + m1⊙x0 (`resid_mix`, init (1, 0)); x ← x_in + attn_scale⊙Attn(RMSNorm(x_in));
x ← x + mlp_scale⊙MLP(RMSNorm(x)). attn_scale/mlp_scale are per-channel, init 1. (SPEC_SEEDS.md §0, §1.3.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pgolf.config import ModelConfig
from pgolf.model.attention import CausalSelfAttention
from pgolf.model.layers import rms_norm
from pgolf.model.mlp import MLP


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int):
        super().__init__()
        d = cfg.model_dim
        self.layer = layer
        self.attn = CausalSelfAttention(d, cfg.num_heads, cfg.num_kv_heads, cfg.rope_base, cfg.qk_gain_init)
        self.mlp = MLP(d, cfg.mlp_mult, cfg.mlp_activation)
        self.attn_scale = nn.Parameter(torch.ones(d, dtype=torch.float32))
        self.mlp_scale = nn.Parameter(torch.ones(d, dtype=torch.float32))
        self.resid_mix = nn.Parameter(torch.stack((torch.ones(d), torch.zeros(d))).float())

    def forward(self, x: Tensor, x0: Tensor) -> Tensor:
        mix = self.resid_mix.to(x.dtype)
        x = mix[0] * x + mix[1] * x0
        x = x + self.attn_scale.to(x.dtype) * self.attn(rms_norm(x))
        x = x + self.mlp_scale.to(x.dtype) * self.mlp(rms_norm(x))
        return x
