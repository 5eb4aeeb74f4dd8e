"""BigramHash embedding: a hashed (previous, current) token-pair table added to the token embedding.

Idea: give every position the identity of its token pair directly, instead of spending attention on it.
Source: PR #162 (@unnir) via the seeds #198, #295, #443, #601, #1473 (SPEC_SEEDS.md §1.2).

Maths: h_t = ((36313·tok_t) XOR (27191·tok_{t−1})) mod (B−1) in int32 for t ≥ 1; position 0 of every sequence gets the
reserved bucket B−1 ("no previous token"). out = scale · P(E[h_t]) with E (B × d_b), P a bias-free d_b → d projection
(absent when d_b = d, as in the seeds) and a learned scalar `scale` (init 0.05). The output is added to the token
embedding *before* the embedding RMSNorm.

Init (the gradient trap): the module zero-inits both E and P, so alone the branch would stay dead (both gradients 0).
`pgolf.model.init` then overwrites one of them exactly as each seed does (orthogonal P in #198/#443/#601/#1473,
orthogonal E in #295); without an OrthoInit rule it makes P orthogonal so the branch trains.

BOS-aware option (`reset_at_bos`, off in every seed): a position holding BOS also gets bucket B−1, so nothing of the
previous document leaks into a document through this branch (the seeds hash the pair (last token, BOS) like any other).

Parameter names (kept from the seeds): bigram.embed.weight, bigram.proj.weight, bigram.scale.
Params: B·d_b + d_b·d + 1 (#198: 2048·128 + 128·512 + 1 = 327,681).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pgolf.model.layers import CastedLinear

HASH_MUL_CUR, HASH_MUL_PREV = 36313, 27191


@dataclass(frozen=True)
class BigramHashConfig:
    """Hashed token-pair embedding (buckets × dim, projected to model_dim, scaled)."""

    buckets: int = 4096
    dim: int = 128
    scale_init: float = 0.05
    reset_at_bos: bool = False  # BOS positions get the "no previous token" bucket (no cross-document leak)


def bigram_buckets(tokens: Tensor, buckets: int, bos_id: int | None = None) -> Tensor:
    """(…, T) token ids → (…, T) bucket ids in [0, buckets); bucket buckets−1 = no previous token."""
    t = tokens.to(torch.int32)
    mod = buckets - 1
    out = torch.empty_like(t)
    out[..., 0] = mod
    out[..., 1:] = torch.bitwise_xor(HASH_MUL_CUR * t[..., 1:], HASH_MUL_PREV * t[..., :-1]) % mod
    if bos_id is not None:
        out = out.masked_fill(t == bos_id, mod)
    return out.long()


class BigramHashEmbedding(nn.Module):
    def __init__(self, cfg: BigramHashConfig, model_dim: int, bos_id: int):
        super().__init__()
        self.buckets = cfg.buckets
        self.bos_id = bos_id if cfg.reset_at_bos else None
        self.embed = nn.Embedding(cfg.buckets, cfg.dim)
        nn.init.zeros_(self.embed.weight)
        self.proj = CastedLinear(cfg.dim, model_dim, bias=False) if cfg.dim != model_dim else None
        if self.proj is not None:
            nn.init.zeros_(self.proj.weight)
        self.scale = nn.Parameter(torch.tensor(cfg.scale_init, dtype=torch.float32))

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.embed(bigram_buckets(tokens, self.buckets, self.bos_id))
        if self.proj is not None:
            h = self.proj(h)
        return h * self.scale.to(h.dtype)
