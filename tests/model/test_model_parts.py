"""Layer sets, RoPE (partial, NTK base), the MLP activations, the seeds' initialisation rules, the attention kernel."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pgolf.config import Config, ModelConfig, override, validate
from pgolf.errors import PgolfError
from pgolf.model.attention import causal_attention, describe_attention_kernel, resolve_attention_kernel
from pgolf.model.gpt import GPT
from pgolf.model.init import spectral_init_
from pgolf.model.layers import Rotary, ntk_rope_base
from pgolf.model.layersets import parse_layers, rescale_layers
from pgolf.model.mlp import MLP

SMALL = ModelConfig(num_layers=4, model_dim=64, num_heads=4, num_kv_heads=2, vocab_size=96, mlp_mult=2.0)


@pytest.mark.parametrize("spec,L,want", [
    ("all", 4, (0, 1, 2, 3)), ("last:4", 11, (7, 8, 9, 10)), ("last:11", 11, tuple(range(11))),
    ("first:2", 5, (0, 1)), ("9,10", 11, (9, 10)), (" 10, 9 ", 11, (9, 10)),
])
def test_parse_layers(spec, L, want):
    assert parse_layers(spec, L) == want


@pytest.mark.parametrize("spec", ["last:0", "last:12", "first:x", "9,11", "9,9", "", "-1", "every"])
def test_parse_layers_rejects_with_one_line(spec):
    with pytest.raises(PgolfError) as e:
        parse_layers(spec, 11, "model.xsa.layers")
    assert str(e.value).startswith("model.xsa.layers: ") and "\n" not in str(e.value)


@pytest.mark.parametrize("spec,want", [("9,10", "2,3"), ("0,1", "0,1"), ("0,10", "0,3"), ("last:4", "last:4"),
                                       ("last:11", "last:4"), ("first:2", "first:2"), ("all", "all")])
def test_rescale_layers_to_tiny_depth(spec, want):
    assert rescale_layers(spec, 11, 4) == want


def test_bad_layer_set_in_config_is_a_one_line_error():
    with pytest.raises(PgolfError, match=r"^model.value_embed.layers: indices must be in \[0, 8\]"):
        validate(override(Config(), {"model.value_embed.layers": "9,10"}))
    with pytest.raises(PgolfError, match="^model.rope_dims: "):
        validate(override(Config(), {"model.rope_dims": 6 + 1}))


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


@pytest.mark.parametrize("act", ["relu2", "leaky_relu2"])
def test_mlp_activation_formula(act):
    mlp = MLP(8, 2.0, act, 0.5)
    with torch.no_grad():
        mlp.proj.weight.normal_()
    x = torch.randn(3, 8)
    z = x @ mlp.fc.weight.T
    h = torch.where(z > 0, z * z, (0.25 * z * z) if act == "leaky_relu2" else torch.zeros_like(z))
    assert torch.allclose(mlp(x), h @ mlp.proj.weight.T, atol=1e-6)


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
