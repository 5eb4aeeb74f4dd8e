"""Value embeddings "VE128": a second, shared token table whose projection is added to V in chosen layers.

Idea: re-inject token identity into the values of deep layers, cheaply. Source: PR #1473 (and its lineage, record
PR #1019 / modded-nanogpt's value embeddings); SPEC_SEEDS.md §1.2.

Maths: ve = scale · P_v(E_v[tok_t]) with one shared table E_v (V × d_ve, init N(0, 0.01²)), a bias-free projection
P_v: d_ve → Hkv·D (zero-init here, made orthogonal by `pgolf.model.init` under the seeds' OrthoInit) and a scalar
`scale` (init 0.1). Computed once per forward. In each layer ℓ of `layers` it is multiplied by a per-layer scalar
`ve_layer_scales[k]` (init 1) and added to the V projection output *before* the head reshape, so the V seen by
attention and by XSA includes it. Per-token, so causal.

Layers: a layer-set spec (`pgolf.model.layersets`); #1473 uses "9,10" of 11 (the last two).
Parameter names (kept from the seeds): ve_shared.embed.weight, ve_shared.proj.weight, ve_shared.scale,
ve_layer_scales.{k}. Params: V·d_ve + d_ve·Hkv·D + 1 + |layers| (#1473: 131,072 + 32,768 + 1 + 2 = 163,843).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pgolf.model.layers import CastedLinear


@dataclass(frozen=True)
class ValueEmbedConfig:
    """Shared value-embedding table added to V in `layers` (a layer-set spec)."""

    dim: int = 128
    layers: str = "9,10"
    embed_init_std: float = 0.01
    scale_init: float = 0.1
    layer_scale_init: float = 1.0


class ValueEmbedding(nn.Module):
    def __init__(self, cfg: ValueEmbedConfig, vocab_size: int, kv_dim: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.dim)
        nn.init.normal_(self.embed.weight, std=cfg.embed_init_std)
        self.proj = CastedLinear(cfg.dim, kv_dim, bias=False) if cfg.dim != kv_dim else None
        if self.proj is not None:
            nn.init.zeros_(self.proj.weight)
        self.scale = nn.Parameter(torch.tensor(cfg.scale_init, dtype=torch.float32))

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.embed(tokens)
        if self.proj is not None:
            h = self.proj(h)
        return h * self.scale.to(h.dtype)
