"""The attention kernel (model/attention.py): SDPA on CPU and FA3 refused without it, SDPA against an explicit GQA
softmax, FA3 against SDPA on a GPU."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _modelkit import SMALL

from pgolf.config import override
from pgolf.errors import PgolfError
from pgolf.model.attention import causal_attention, describe_attention_kernel, resolve_attention_kernel
from pgolf.model.gpt import GPT


def test_attention_kernel_on_cpu_is_sdpa_and_fa3_request_is_refused():
    assert resolve_attention_kernel("auto") in ("sdpa", "fa3")
    assert describe_attention_kernel("auto", on_cuda=False) == "SDPA (CPU)"
    if not torch.cuda.is_available():
        assert resolve_attention_kernel("auto") == "sdpa"
        with pytest.raises(PgolfError, match="^model.attention_kernel: 'fa3' needs"):
            GPT(override(SMALL, {"attention_kernel": "fa3"}))


def test_sdpa_path_equals_explicit_gqa_softmax():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 6, h, 8, generator=g) for h in (4, 2, 2))
    got = causal_attention(q, k, v, "sdpa")
    kk, vv = k.repeat_interleave(2, dim=2), v.repeat_interleave(2, dim=2)
    s = torch.einsum("bthd,bshd->bhts", q, kk) / math.sqrt(8)
    s = s.masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), float("-inf"))
    assert torch.allclose(got, torch.einsum("bhts,bshd->bthd", s.softmax(-1), vv), atol=1e-5)


@pytest.mark.gpu
def test_fa3_equals_sdpa_on_gpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    pytest.importorskip("flash_attn_interface")
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(2, 128, h, 64, generator=g, device="cuda", dtype=torch.bfloat16) for h in (8, 4, 4))
    a, b = causal_attention(q, k, v, "fa3"), causal_attention(q, k, v, "sdpa")
    assert (a.float() - b.float()).abs().max().item() < 2e-2
    assert F.cosine_similarity(a.float().flatten(), b.float().flatten(), dim=0) > 0.9999
