"""RoPE (model/layers.py): the NTK base against the published effective bases, partial RoPE as a full RoPE of its
width, scores that depend only on relative position."""

from __future__ import annotations

import torch

from pgolf.model.layers import Rotary, ntk_rope_base


def test_ntk_base_reproduces_the_published_effective_bases():
    assert round(ntk_rope_base(1e4, 64, 2048)) == 20452  # #198 at T = 2048 (SPEC_SEEDS.md §1.3)
    assert round(ntk_rope_base(1e4, 16, 2048)) == 22082  # #1473
    assert ntk_rope_base(1e4, 16, 1024) == 1e4 and ntk_rope_base(1e4, 64, 17) == 1e4


def test_partial_rope_rotates_the_first_dims_like_a_full_rope_of_that_width():
    x = torch.randn(2, 7, 3, 16)
    part, full = Rotary(16, base=500.0, rope_dims=4), Rotary(4, base=500.0)
    got = part(x, *part.cos_sin(7, x.device, x.dtype))
    assert torch.equal(got[..., 4:], x[..., 4:])
    assert torch.allclose(got[..., :4], full(x[..., :4], *full.cos_sin(7, x.device, x.dtype)))


def test_rope_scores_depend_only_on_relative_position():
    rot = Rotary(8, base=100.0, rope_dims=4)
    q, k = torch.randn(8), torch.randn(8)
    cos, sin = rot.cos_sin(12, q.device, q.dtype)
    Q = rot(q.expand(1, 12, 1, 8), cos, sin)[0, :, 0]
    K = rot(k.expand(1, 12, 1, 8), cos, sin)[0, :, 0]
    assert torch.allclose(Q[5] @ K[2], Q[9] @ K[6], atol=1e-5)
