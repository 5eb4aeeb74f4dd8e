"""The baseline model equals a plain-PyTorch reference GPT written here, independently (same weights → same logits)."""

from __future__ import annotations

import math

import torch

from pgolf.config import ModelConfig
from pgolf.model.gpt import GPT


def ref_rmsnorm(x):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + torch.finfo(x.dtype).eps)


def ref_rope(x, base):
    """x (B, H, T, D): pair i with i + D/2, angle pos·base^(−2i/D)."""
    B, H, T, D = x.shape
    half = D // 2
    out = x.clone()
    for i in range(half):
        theta = torch.arange(T, dtype=torch.float64) * base ** (-2.0 * i / D)
        c, s = torch.cos(theta).to(x.dtype), torch.sin(theta).to(x.dtype)
        a, b = x[..., i], x[..., i + half]
        out[..., i] = a * c + b * s
        out[..., i + half] = -a * s + b * c
    return out


def ref_attention(x, W, cfg, layer):
    B, T, C = x.shape
    H, Hk = cfg.num_heads, cfg.num_kv_heads
    D = C // H
    q = (x @ W[f"blocks.{layer}.attn.c_q.weight"].T).view(B, T, H, D).transpose(1, 2)
    k = (x @ W[f"blocks.{layer}.attn.c_k.weight"].T).view(B, T, Hk, D).transpose(1, 2)
    v = (x @ W[f"blocks.{layer}.attn.c_v.weight"].T).view(B, T, Hk, D).transpose(1, 2)
    q, k = ref_rope(ref_rmsnorm(q), cfg.rope_base), ref_rope(ref_rmsnorm(k), cfg.rope_base)
    q = q * W[f"blocks.{layer}.attn.q_gain"].view(1, H, 1, 1)
    rep = H // Hk
    k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    att = scores.masked_fill(~mask, float("-inf")).softmax(-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, C)
    return y @ W[f"blocks.{layer}.attn.proj.weight"].T


def ref_logits(idx, W, cfg: ModelConfig):
    x = ref_rmsnorm(W["tok_emb.weight"][idx])
    x0 = x
    L = cfg.num_layers
    n_enc = L // 2
    stack = []
    for i in range(L):
        if i >= n_enc and stack:
            x = x + W["skip_weights"][i - n_enc] * stack.pop()
        mix = W[f"blocks.{i}.resid_mix"]
        x = mix[0] * x + mix[1] * x0
        x = x + W[f"blocks.{i}.attn_scale"] * ref_attention(ref_rmsnorm(x), W, cfg, i)
        h = torch.relu(ref_rmsnorm(x) @ W[f"blocks.{i}.mlp.fc.weight"].T) ** 2
        x = x + W[f"blocks.{i}.mlp_scale"] * (h @ W[f"blocks.{i}.mlp.proj.weight"].T)
        if i < n_enc:
            stack.append(x)
    z = ref_rmsnorm(x) @ W["tok_emb.weight"].T
    return cfg.logit_softcap * torch.tanh(z / cfg.logit_softcap)


def test_baseline_equals_reference_at_tiny_size():
    cfg = ModelConfig(num_layers=5, model_dim=64, num_heads=4, num_kv_heads=2, vocab_size=97)
    torch.manual_seed(0)
    model = GPT(cfg)
    with torch.no_grad():  # make every weight non-trivial (zero-init projections would hide bugs)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    W = {k: v.detach().double() for k, v in model.state_dict().items()}
    idx = torch.randint(0, cfg.vocab_size, (2, 33))
    got = model.double().logits(idx)
    want = ref_logits(idx, W, cfg)
    assert got.shape == (2, 33, cfg.vocab_size)
    # float64 everywhere except the RoPE tables, which are built in fp32 by design (as in the seeds): ~1e-7.
    assert (got - want).abs().max().item() < 1e-6


def test_loss_is_mean_token_nll():
    cfg = ModelConfig(num_layers=2, model_dim=32, num_heads=2, num_kv_heads=1, vocab_size=50)
    model = GPT(cfg)
    idx, tgt = torch.randint(0, 50, (3, 16)), torch.randint(0, 50, (3, 16))
    z = model.logits(idx)
    nll = -torch.log_softmax(z, -1).gather(-1, tgt[..., None])[..., 0]
    assert torch.allclose(model.token_losses(idx, tgt), nll, atol=1e-5)
    assert torch.allclose(model(idx, tgt), nll.mean(), atol=1e-5)


def test_causality_of_the_trunk():
    cfg = ModelConfig(num_layers=3, model_dim=32, num_heads=2, num_kv_heads=1, vocab_size=50)
    torch.manual_seed(1)
    model = GPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    idx, tgt = torch.randint(0, 50, (2, 20)), torch.randint(0, 50, (2, 20))
    base = model.token_losses(idx, tgt)
    idx2 = idx.clone()
    idx2[:, 12:] = (idx2[:, 12:] + 7) % 50
    pert = model.token_losses(idx2, tgt)
    assert torch.equal(base[:, :12], pert[:, :12])
    assert not torch.equal(base[:, 12:], pert[:, 12:])
