"""Sampling text from the model itself (GPTQ's self-generated calibration, #1019/#1473), with a KV cache.

#1473 recomputes the whole prefix at every step (O(T²) forwards). Here an inference helper runs the SAME modules of
the one GPT incrementally: each block's c_q/c_k/c_v/proj, q_gain, rotary, resid_mix, scales, MLP and the U-Net skips
are called as in `GPT.hidden`, with keys/values of earlier positions kept per layer and RoPE evaluated at the absolute
positions. No second model class. Before using it, `cached_logits_ok` checks on a short prompt that prefill + one
cached step reproduce `model.logits` — a model with features this helper does not know (added by later techniques)
fails the check, and generation then recomputes the prefix each step, saying so in the log (never silently).
Sampling: the first token is uniform in [0, V); then multinomial from softmax(logits/temperature), a
torch.Generator seeded with `seed` (#1473). Test: cached logits equal full recomputation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.model.layers import rms_norm


def _attn_step(attn: nn.Module, x: Tensor, cache: dict, pos: int) -> Tensor:
    B, T, C = x.shape
    q = attn.c_q(x).reshape(B, T, attn.num_heads, attn.head_dim).transpose(1, 2)
    k = attn.c_k(x).reshape(B, T, attn.num_kv_heads, attn.head_dim).transpose(1, 2)
    v = attn.c_v(x).reshape(B, T, attn.num_kv_heads, attn.head_dim).transpose(1, 2)
    q, k = rms_norm(q), rms_norm(k)
    cos, sin = attn.rotary.cos_sin(pos + T, x.device, q.dtype)
    cos, sin = cos[:, :, pos:], sin[:, :, pos:]
    q, k = attn.rotary(q, cos, sin), attn.rotary(k, cos, sin)
    q = q * attn.q_gain.to(q.dtype)[None, :, None, None]
    if "k" in cache:
        k, v = torch.cat((cache["k"], k), dim=2), torch.cat((cache["v"], v), dim=2)
    cache["k"], cache["v"] = k, v
    gqa = k.size(1) != q.size(1)
    if pos == 0:
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
    else:
        mask = torch.ones(T, pos + T, dtype=torch.bool, device=x.device).tril(diagonal=pos)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
    return attn.proj(y.transpose(1, 2).reshape(B, T, C))


@torch.no_grad()
def cached_forward(model: nn.Module, idx: Tensor, caches: list[dict], pos: int) -> Tensor:
    """Softcapped fp32 logits of the new tokens `idx` (B, T) at absolute positions pos..pos+T−1."""
    x = rms_norm(model.tok_emb(idx))
    x0 = x
    skips: list[Tensor] = []
    unet = model.cfg.unet_skips
    for i, block in enumerate(model.blocks):
        if unet and i >= model.n_enc and skips:
            x = x + model.skip_weights[i - model.n_enc].to(x.dtype) * skips.pop()
        mix = block.resid_mix.to(x.dtype)
        x = mix[0] * x + mix[1] * x0
        x = x + block.attn_scale.to(x.dtype) * _attn_step(block.attn, rms_norm(x), caches[i], pos)
        x = x + block.mlp_scale.to(x.dtype) * block.mlp(rms_norm(x))
        if i < model.n_enc:
            skips.append(x)
    x = rms_norm(x)
    z = F.linear(x, model.tok_emb.weight) if model.lm_head is None else model.lm_head(x)
    c = model.cfg.logit_softcap
    return c * torch.tanh(z.float() / c)


@torch.no_grad()
def cached_logits_ok(model: nn.Module, device: torch.device, tol: float = 1e-3) -> bool:
    """Does prefill of 3 tokens + one cached step reproduce model.logits on 4 tokens?"""
    g = torch.Generator(device="cpu").manual_seed(0)
    idx = torch.randint(0, model.cfg.vocab_size, (1, 4), generator=g).to(device)
    try:
        caches = [{} for _ in model.blocks]
        a = cached_forward(model, idx[:, :3], caches, 0)
        b = cached_forward(model, idx[:, 3:], caches, 3)
    except (AttributeError, RuntimeError, TypeError):
        return False
    ref = model.logits(idx).float()
    return bool(torch.allclose(torch.cat((a, b), 1), ref, atol=tol, rtol=tol))


@torch.no_grad()
def generate(model: nn.Module, n_seqs: int, seq_len: int, temperature: float, seed: int, batch: int,
             device: torch.device, log: Callable[[str], None] = print, use_cache: bool | None = None) -> Tensor:
    """(n_seqs, seq_len) int64 tokens sampled from the model (CPU tensor)."""
    was_training = model.training
    model.eval()
    if use_cache is None:
        use_cache = cached_logits_ok(model, device)
        log("generation: KV cache" if use_cache else
            "generation: model features unknown to the KV-cache helper; recomputing the prefix at every step")
    gen = torch.Generator(device=device).manual_seed(seed)
    V = model.cfg.vocab_size
    out = []
    for b0 in range(0, n_seqs, batch):
        bs = min(batch, n_seqs - b0)
        toks = torch.randint(0, V, (bs, 1), generator=gen, device=device)
        caches = [{} for _ in model.blocks]
        logits = cached_forward(model, toks, caches, 0) if use_cache else model.logits(toks)
        for t in range(1, seq_len):
            probs = torch.softmax(logits[:, -1].float() / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=gen)
            toks = torch.cat((toks, nxt), dim=1)
            if t < seq_len - 1:
                logits = cached_forward(model, nxt, caches, t) if use_cache else model.logits(toks)
        out.append(toks.cpu())
    model.train(was_training)
    return torch.cat(out, 0)
