"""Self-generated calibration text: the KV-cache path equals full recomputation for every seed's features
(BigramHash, SmearGate, XSA, value embeddings, value residual, attention gate, partial RoPE, backout, U-Net skips),
sampling is seeded, and an unknown attention feature falls back loudly."""

from __future__ import annotations

import pytest
import torch

from pgolf.config import ModelConfig, override
from pgolf.model.gpt import GPT
from pgolf.quant.generate import cached_logits_ok, cached_step, generate, kv_cached
from pgolf.recipes import get_recipe, tiny


def _noisy(m: GPT) -> GPT:
    with torch.no_grad():
        for p in m.parameters():  # zero-init projections and gates would hide a wrong path
            p.add_(torch.randn_like(p) * 0.1)
    return m.eval()


def _model(unet=True, tie=True):
    torch.manual_seed(0)
    return _noisy(GPT(ModelConfig(vocab_size=64, num_layers=3, model_dim=32, num_heads=4, num_kv_heads=2,
                                  unet_skips=unet, tie_embeddings=tie)))


def _seed_model(name: str) -> GPT:
    cfg = override(tiny(get_recipe(name).build()), {"model.vocab_size": 64, "model.model_dim": 64})
    torch.manual_seed(1)
    return _noisy(GPT(cfg.model))


def _cached_equals_full(m: GPT, atol=1e-5):
    idx = torch.randint(0, m.cfg.vocab_size, (2, 12), generator=torch.Generator().manual_seed(2))
    with kv_cached(m) as caches:
        parts = [cached_step(m, idx[:, :5], caches, 5)]
        parts += [cached_step(m, idx[:, :t + 1], caches, 1) for t in range(5, 9)]
        parts.append(cached_step(m, idx, caches, 3))  # a multi-token step after single ones
    with torch.no_grad():
        ref = m.logits(idx)
    assert torch.allclose(torch.cat(parts, 1), ref, atol=atol, rtol=atol)
    assert cached_logits_ok(m, torch.device("cpu"))
    assert all("forward" not in b.attn.__dict__ for b in m.blocks)  # the swap is undone


def test_cached_logits_equal_full_recomputation():
    for unet, tie in ((True, True), (False, False)):
        _cached_equals_full(_model(unet, tie))


def test_cached_logits_follow_depth_recurrence_and_parallel_lanes():
    # layers 1..2 of 4 run three times each: every pass keeps its own cache (one per call within a forward)
    cfg = override(tiny(get_recipe("pr1473").build()), {
        "model.vocab_size": 64, "model.model_dim": 64, "model.recurrence.loop_start": 1,
        "model.recurrence.loop_end": 2, "model.parallel_residual.start_layer": 3})
    torch.manual_seed(3)
    m = _noisy(GPT(cfg.model))
    assert m.looping
    _cached_equals_full(m)


@pytest.mark.parametrize("name", ["pr295", "pr601", "pr1473"])
def test_cached_logits_with_the_seeds_features(name):
    m = _seed_model(name)
    feats = {k for k in ("bigram", "smear", "ve_shared", "backout_lambda") if getattr(m, k) is not None}
    assert {"bigram", "smear"} <= feats
    _cached_equals_full(m, atol=1e-4)


def test_generation_cached_equals_uncached_and_is_seeded():
    m = _seed_model("pr1473")
    a = generate(m, 3, 10, 0.8, 7, 2, torch.device("cpu"), log=lambda s: None, use_cache=True)
    b = generate(m, 3, 10, 0.8, 7, 2, torch.device("cpu"), log=lambda s: None, use_cache=False)
    c = generate(m, 3, 10, 0.8, 8, 2, torch.device("cpu"), log=lambda s: None, use_cache=True)
    assert a.shape == (3, 10) and a.dtype == torch.int64 and int(a.max()) < 64
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_unknown_attention_feature_falls_back_loudly():
    m = _model()
    m.blocks[1].attn.forward = lambda x, ve=None, v0=None: (torch.zeros_like(x), None)  # a feature the twin lacks
    lines = []
    assert not cached_logits_ok(m, torch.device("cpu"))
    generate(m, 1, 4, 1.0, 0, 1, torch.device("cpu"), log=lines.append)
    assert any("recomputing the prefix" in s for s in lines)
    assert "forward" in m.blocks[1].attn.__dict__  # the instance's own forward survived the swap
