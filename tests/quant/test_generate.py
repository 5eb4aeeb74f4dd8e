"""Self-generated calibration text: the KV-cache helper equals full recomputation, sampling is seeded."""

from __future__ import annotations

import torch

from pgolf.config import ModelConfig
from pgolf.model.gpt import GPT
from pgolf.quant.generate import cached_forward, cached_logits_ok, generate


def _model(unet=True, tie=True):
    torch.manual_seed(0)
    m = GPT(ModelConfig(vocab_size=64, num_layers=3, model_dim=32, num_heads=4, num_kv_heads=2, unet_skips=unet,
                        tie_embeddings=tie))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m.eval()


def test_cached_logits_equal_full_recomputation():
    for unet, tie in ((True, True), (False, False)):
        m = _model(unet, tie)
        idx = torch.randint(0, 64, (2, 12))
        caches = [{} for _ in m.blocks]
        parts = [cached_forward(m, idx[:, :5], caches, 0)]
        parts += [cached_forward(m, idx[:, t:t + 1], caches, t) for t in range(5, 9)]
        parts.append(cached_forward(m, idx[:, 9:], caches, 9))  # a multi-token step after the prefill
        with torch.no_grad():
            ref = m.logits(idx)
        assert torch.allclose(torch.cat(parts, 1), ref, atol=1e-5, rtol=1e-5)
        assert cached_logits_ok(m, torch.device("cpu"))


def test_generation_cached_equals_uncached_and_is_seeded():
    m = _model()
    a = generate(m, 3, 10, 0.8, 7, 2, torch.device("cpu"), log=lambda s: None, use_cache=True)
    b = generate(m, 3, 10, 0.8, 7, 2, torch.device("cpu"), log=lambda s: None, use_cache=False)
    c = generate(m, 3, 10, 0.8, 8, 2, torch.device("cpu"), log=lambda s: None, use_cache=True)
    assert a.shape == (3, 10) and a.dtype == torch.int64 and int(a.max()) < 64
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_unknown_model_features_fall_back_loudly():
    m = _model()
    m.blocks[1].attn.forward = lambda x: torch.zeros_like(x)  # a feature the helper does not reproduce
    lines = []
    assert not cached_logits_ok(m, torch.device("cpu"))
    generate(m, 1, 4, 1.0, 0, 1, torch.device("cpu"), log=lines.append)
    assert any("recomputing the prefix" in s for s in lines)
