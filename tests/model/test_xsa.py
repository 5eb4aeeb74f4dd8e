"""XSA (model/features/xsa.py): the efficient form equals a naive per-head loop and is orthogonal to the own value;
it applies on its layer set only."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from _modelkit import with_changes

from pgolf.model.features.xsa import exclusive_self_attention
from pgolf.model.gpt import GPT


def naive_xsa(y, v):
    """Per head, per position: y − (y·v̂)v̂ with v̂ the unit value of the KV head the query head shares."""
    B, T, H, D = y.shape
    group = H // v.size(2)
    out = torch.empty_like(y)
    for b in range(B):
        for t in range(T):
            for h in range(H):
                vh = v[b, t, h // group]
                vhat = vh / vh.norm()
                out[b, t, h] = y[b, t, h] - torch.dot(y[b, t, h], vhat) * vhat
    return out


def test_xsa_efficient_equals_naive_and_is_orthogonal_to_own_value():
    g = torch.Generator().manual_seed(0)
    y, v = torch.randn(2, 5, 6, 8, generator=g, dtype=torch.float64), torch.randn(2, 5, 3, 8, generator=g,
                                                                                   dtype=torch.float64)
    got = exclusive_self_attention(y, v)
    assert torch.allclose(got, naive_xsa(y, v), atol=1e-12)
    vn = F.normalize(v, dim=-1).repeat_interleave(2, dim=2)
    assert (got * vn).sum(-1).abs().max() < 1e-12
    assert not torch.allclose(got, y)


def test_xsa_applies_on_its_layer_set_only():
    model = GPT(with_changes({"model.xsa": {"layers": "last:2"}}))
    assert [b.attn.xsa for b in model.blocks] == [False, False, True, True]
