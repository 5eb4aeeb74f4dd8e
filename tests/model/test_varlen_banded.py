"""The banded form of varlen's exact masked path (pgolf.model.features.varlen.banded_masked_attention): with every
segment at most W long it equals causal attention over each segment alone, and the full-mask path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pgolf.data.packed import cu_seqlens_of
from pgolf.model.features.varlen import banded_masked_attention, varlen_attention


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    yield


def per_segment(q, k, v, bounds):
    """Naive reference: plain causal SDPA over each segment on its own."""
    out = torch.zeros_like(q)
    for s, e in zip(bounds[:-1], bounds[1:]):
        y = F.scaled_dot_product_attention(q[:, s:e].transpose(1, 2), k[:, s:e].transpose(1, 2),
                                           v[:, s:e].transpose(1, 2), is_causal=True,
                                           enable_gqa=k.size(2) != q.size(2))
        out[:, s:e] = y.transpose(1, 2)
    return out


@pytest.mark.parametrize("N,W,Hkv,seed", [(96, 16, 2, 0), (100, 16, 1, 1), (72, 32, 2, 2), (40, 8, 2, 3)])
def test_banded_equals_each_segment_alone_and_the_full_mask(N, W, Hkv, seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(2, 50, (N,), generator=g).numpy()
    tokens[np.random.default_rng(seed).choice(N, N // 12, replace=False)] = 1  # documents; long ones cut at W
    cu, longest, _ = cu_seqlens_of(tokens, 1, W, 64)
    assert longest <= W
    q = torch.randn(1, N, 2, 8, generator=g)
    k, v = torch.randn(1, N, Hkv, 8, generator=g), torch.randn(1, N, Hkv, 8, generator=g)
    cu_t = torch.from_numpy(cu)
    banded = banded_masked_attention(q, k, v, cu_t, W)
    bounds = sorted(set(cu.tolist()))
    torch.testing.assert_close(banded, per_segment(q, k, v, bounds), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(banded, varlen_attention(q, k, v, cu_t, 0), rtol=1e-5, atol=1e-6)  # full mask
    torch.testing.assert_close(varlen_attention(q, k, v, cu_t, W), banded, rtol=0, atol=0)  # it is the dispatch


def test_a_segment_straddling_two_blocks_keeps_all_its_keys():
    W, N = 8, 24
    cu = torch.tensor([0, 5, 13, 21, 24], dtype=torch.int32)  # [5, 13) crosses the block edge at 8
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, N, 2, 4, generator=g) for _ in range(3))
    torch.testing.assert_close(banded_masked_attention(q, k, v, cu, W), per_segment(q, k, v, cu.tolist()),
                               rtol=1e-5, atol=1e-6)
