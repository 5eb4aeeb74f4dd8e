"""Sampling text from the model itself (GPTQ's self-generated calibration, #1019/#1473), with a KV cache.

#1473 recomputes the whole prefix at every step (O(T²) work per sequence). Here each step runs the ONE GPT's own
`logits` on a short window — the new token plus `LOOKBACK` earlier ones — while every attention module is swapped,
for the duration of generation only, for a cached twin that keeps the keys/values of all earlier positions and
evaluates RoPE at absolute positions. Everything in the trunk except attention is position-wise, and the input-side
features look back at most 2 tokens (BigramHash hashes (previous, current); SmearGate — the seeds' or the gated one
of #1855 — adds the previous position's embedding, itself built from a bigram), so the newest position is exact. Only the new
positions' keys/values enter the cache (older window positions lack their own look-back and are discarded).
The cached twin calls the attention's own stages (`qkv` at absolute positions; `output`: XSA, gate, projection) and
replaces only the kernel; before generating, `cached_logits_ok` checks that prefill + cached steps reproduce
`model.logits` — a feature that breaks the cache fails the check, and generation then recomputes the prefix at
every step, saying so in the log (never silently).
Sampling: the first token is uniform in [0, V); then multinomial from softmax(logits/temperature), a
torch.Generator seeded with `seed` (#1473). Tests: cached logits equal full recomputation for every seed recipe's
features; cached and uncached sampling give the same tokens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.runtime.progress import bar

LOOKBACK = 2  # earlier tokens each step re-reads: BigramHash needs 1, SmearGate over a bigram-fed embedding 2


class CachedAttention:
    """Stands in for one CausalSelfAttention's forward: window positions [start, start+T), the last `n_new` new.

    A layer that runs several times per forward (depth recurrence) keeps one cache per pass: the k-th call within a
    forward reads and extends cache k (`calls` is reset before every step)."""

    def __init__(self, attn: nn.Module):
        self.attn = attn
        self.k: list[Tensor] = []
        self.v: list[Tensor] = []
        self.start = 0
        self.n_new = 0
        self.calls = 0

    def __call__(self, x: Tensor, ve: Tensor | None = None, v0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        a = self.attn
        T = x.shape[1]
        q, k, v, raw_v = a.qkv(x, ve, v0, start=self.start)  # the model's own projections, norms and RoPE
        end = self.start + T
        new_k, new_v = k[:, T - self.n_new:], v[:, T - self.n_new:]
        i = self.calls
        self.calls += 1
        if i == len(self.k):
            self.k.append(new_k)
            self.v.append(new_v)
        else:
            self.k[i] = torch.cat((self.k[i], new_k), 1)
            self.v[i] = torch.cat((self.v[i], new_v), 1)
        keys_k, keys_v = self.k[i], self.v[i]
        keys = torch.arange(end, device=x.device)
        mask = keys[None, :] <= torch.arange(self.start, end, device=x.device)[:, None]  # (T, end)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), keys_k.transpose(1, 2).to(q.dtype),
                                           keys_v.transpose(1, 2).to(q.dtype), attn_mask=mask,
                                           enable_gqa=a.num_kv_heads != a.num_heads).transpose(1, 2)
        return a.output(y, v, x), raw_v


@contextlib.contextmanager
def kv_cached(model: nn.Module):
    """Swap every block's attention forward for a fresh CachedAttention; restored on exit."""
    caches = [CachedAttention(b.attn) for b in model.blocks]
    saved = [b.attn.__dict__.get("forward") for b in model.blocks]  # an instance-level forward, if any
    for b, c in zip(model.blocks, caches):
        b.attn.forward = c
    try:
        yield caches
    finally:
        for b, f in zip(model.blocks, saved):
            if f is None:
                del b.attn.forward  # back to the class's forward
            else:
                b.attn.forward = f


@torch.no_grad()
def cached_step(model: nn.Module, toks: Tensor, caches: list[CachedAttention], n_new: int) -> Tensor:
    """Logits (B, n_new, V) of the last `n_new` tokens of `toks` (B, t); the cache holds positions < t − n_new."""
    t = toks.shape[1]
    start = max(0, t - n_new - LOOKBACK)
    for c in caches:
        c.start, c.n_new, c.calls = start, n_new, 0
    return model.logits(toks[:, start:])[:, -n_new:]


@torch.no_grad()
def cached_logits_ok(model: nn.Module, device: torch.device, tol: float = 1e-3) -> bool:
    """Does a 3-token prefill + 5 single cached steps reproduce model.logits on 8 tokens?"""
    g = torch.Generator(device="cpu").manual_seed(0)
    idx = torch.randint(0, model.cfg.vocab_size, (1, 8), generator=g).to(device)
    try:
        with kv_cached(model) as caches:
            parts = [cached_step(model, idx[:, :3], caches, 3)]
            parts += [cached_step(model, idx[:, :t + 1], caches, 1) for t in range(3, 8)]
    except (AttributeError, RuntimeError, TypeError, ValueError):
        return False
    ref = model.logits(idx).float()
    return bool(torch.allclose(torch.cat(parts, 1).float(), ref, atol=tol, rtol=tol))


@torch.no_grad()
def generate(model: nn.Module, n_seqs: int, seq_len: int, temperature: float, seed: int, batch: int,
             device: torch.device, log: Callable[[str], None] = print, use_cache: bool | None = None) -> Tensor:
    """(n_seqs, seq_len) int64 tokens sampled from the model (CPU tensor)."""
    was_training = model.training
    model.eval()
    if use_cache is None:
        use_cache = cached_logits_ok(model, device)
        log("generation: KV cache" if use_cache else
            "generation: an attention feature unknown to the KV-cache twin; recomputing the prefix at every step")
    gen = torch.Generator(device=device).manual_seed(seed)
    V = model.cfg.vocab_size
    out = []
    shown = bar(desc="gptq generation", total=n_seqs * (seq_len - 1), unit="tok")
    try:
        for b0 in range(0, n_seqs, batch):
            bs = min(batch, n_seqs - b0)
            toks = torch.randint(0, V, (bs, 1), generator=gen, device=device)
            with kv_cached(model) if use_cache else contextlib.nullcontext() as caches:
                for _ in range(1, seq_len):
                    logits = cached_step(model, toks, caches, 1) if use_cache else model.logits(toks)
                    probs = torch.softmax(logits[:, -1].float() / temperature, dim=-1)
                    toks = torch.cat((toks, torch.multinomial(probs, 1, generator=gen)), dim=1)
                    shown.update(bs)
            out.append(toks.cpu())
    finally:
        shown.close()
        model.train(was_training)
    return torch.cat(out, 0)
