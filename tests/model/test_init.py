"""The seeds' initialisation rules (model/init.py): OrthoInit by min-dim and by numel, spectral embedding init,
the resid-mix depth ramp, at the settings of #198/#443/#601, #295 and #1473."""

from __future__ import annotations

import math

import pytest
import torch
from _modelkit import SMALL

from pgolf.config import override
from pgolf.model.gpt import GPT
from pgolf.model.init import spectral_init_


def is_orthogonal(w, gain=1.0):
    w = w if w.shape[0] <= w.shape[1] else w.T
    return torch.allclose(w @ w.T, gain**2 * torch.eye(w.shape[0]), atol=1e-5)


def test_ortho_linear_min_dim_as_198_443_601():
    cfg = override(SMALL, {"bigram_hash": {"buckets": 50, "dim": 16}, "attn_gate": "on",
                           "init.ortho": {"rule": "linear_min_dim", "min_dim": 16, "proj_scale": True}})
    m = GPT(cfg)
    b = m.blocks[0]
    for w in (b.attn.c_q.weight, b.attn.c_k.weight, b.attn.c_v.weight, b.mlp.fc.weight):
        assert is_orthogonal(w)
    assert not b.attn.proj.weight.any() and not b.mlp.proj.weight.any()  # zero-init wins over the "muP" scaling
    assert is_orthogonal(m.bigram.proj.weight, 1 / math.sqrt(2 * 4)) and not m.bigram.embed.weight.any()
    assert not b.attn.attn_gate.weight.any() and torch.all(b.attn.attn_gate.bias == 4.0)  # 4 rows < min_dim


def test_ortho_param_numel_and_spectral_and_ramp_as_295():
    cfg = override(SMALL, {"bigram_hash": {"buckets": 300, "dim": 16}, "backout": "on",
                           "init.ortho": {"rule": "param_numel", "min_numel": 1025},
                           "init.spectral_embed": "on", "init.resid_mix": "depth_ramp"})
    m = GPT(cfg)
    assert is_orthogonal(m.bigram.embed.weight) and not m.bigram.proj.weight.any()  # 16·64 = 1024 < 1025
    assert is_orthogonal(m.blocks[1].attn.c_k.weight)
    s = torch.linalg.svdvals(m.tok_emb.weight)
    assert torch.allclose(s / s[0], torch.arange(1, 65, dtype=s.dtype) ** -0.5, atol=1e-5)
    ramp = [m.blocks[i].resid_mix[:, 0].tolist() for i in (0, 3)]
    assert [round(v, 4) for v in ramp[0]] == [0.1824, 0.8176] and [round(v, 4) for v in ramp[1]] == [0.8176, 0.1824]
    assert m.backout_lambda.item() == pytest.approx(0.2)


def test_ortho_unscaled_as_1473():
    cfg = override(SMALL, {"bigram_hash": {"buckets": 50, "dim": 16}, "value_embed": {"dim": 16, "layers": "3"},
                           "init.ortho": {"rule": "linear_min_dim", "min_dim": 16, "proj_scale": False}})
    m = GPT(cfg)
    assert is_orthogonal(m.bigram.proj.weight) and is_orthogonal(m.ve_shared.proj.weight)
    assert m.ve_shared.embed.weight.std().item() == pytest.approx(0.01, rel=0.2)
    assert m.ve_shared.scale.item() == pytest.approx(0.1) and m.ve_layer_scales[0].item() == 1.0


def test_spectral_init_keeps_singular_vectors():
    w = torch.randn(12, 5, dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(w, full_matrices=False)
    spectral_init_(w)
    assert torch.allclose(w, (U * (S[0] / torch.arange(1, 6, dtype=S.dtype).sqrt())) @ Vh)
