"""The block (model/block.py): LN scale equals the plain model with rescaled weights (a math identity)."""

from __future__ import annotations

import math

import torch
from _modelkit import PLAIN, randomized, tokens, with_changes

from pgolf.model.gpt import GPT


def test_ln_scale_equals_rescaled_plain_model():
    """RMSNorm(x)·s feeds q/k through another RMSNorm (scale-free), v linearly (×s) and the MLP's squared activation
    (×s²): so LN scale equals the plain model with c_v scaled by s_l and mlp.proj by s_l² — a math identity."""
    plain = randomized(GPT(PLAIN))
    model = GPT(with_changes({"model.ln_scale": True}))
    model.load_state_dict(plain.state_dict())
    with torch.no_grad():
        for i, b in enumerate(plain.blocks):
            s = 1 / math.sqrt(i + 1)
            b.attn.c_v.weight.mul_(s)
            b.mlp.proj.weight.mul_(s * s)
    idx = tokens()
    assert torch.allclose(model.logits(idx), plain.logits(idx), atol=1e-5)
