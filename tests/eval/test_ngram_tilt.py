"""Token-only n-gram tilt (pgolf.eval.ngram_tilt): hints against a literal loop over the record helper's rules,
normalisation of the tilted distribution over the whole vocabulary (C2), and causality of the hints (C1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgolf.config import NgramTiltConfig
from pgolf.eval.ngram_tilt import COEFFS, build_hints, context_keys, tilted_nll

M64 = (1 << 64) - 1


def naive(tokens: np.ndarray, order: int, threshold: float):
    """online_ngram_state.c's token expert, one token at a time: a ring seeded with the first target, a table of
    context → (total, top count, top token) updated after the lookup, the top replaced only on a strictly larger
    count. Keys are Python ints (mod 2⁶⁴) of the same hash."""
    L = order - 1
    targets = [int(v) for v in tokens[1:]]
    ring = [targets[0]]
    ctx, pair = {}, {}
    hint, gate, keys = np.zeros(tokens.size, np.int64), np.zeros(tokens.size, bool), {}
    for i, tok in enumerate(targets):
        j = i + 1
        if len(ring) >= L:
            last = ring[len(ring) - L :] if L else []
            key = 0
            for k, v in enumerate(last):
                key ^= (v * int(COEFFS[k])) & M64
            keys[j] = key
            if key in ctx:
                total, top, top_tok = ctx[key]
                if np.float32(top) / np.float32(total) >= np.float32(threshold):
                    hint[j], gate[j] = top_tok, True
            pc = pair[(key, tok)] = pair.get((key, tok), 0) + 1
            total, top, top_tok = ctx.get(key, (0, 0, tok))
            ctx[key] = (total + 1, pc, tok) if pc > top else (total + 1, top, top_tok)
        ring.append(tok)
    return hint, gate, keys


@pytest.mark.parametrize("order,threshold,vocab", [(16, 0.8, 3), (3, 0.5, 5), (2, 0.3, 8), (1, 0.2, 4), (5, 1.0, 2)])
def test_hints_equal_the_helpers_rules(order, threshold, vocab):
    rng = np.random.default_rng(order)
    tok = rng.integers(0, vocab, 3000).astype(np.uint16)
    tok[rng.random(tok.size) < 0.5] = 1  # many repeats, so contexts recur
    h, g = build_hints(tok, NgramTiltConfig(order=order, threshold=threshold))
    rh, rg, rkeys = naive(tok, order, threshold)
    keys, valid = context_keys(tok, order)
    assert sorted(np.flatnonzero(valid).tolist()) == sorted(rkeys)
    assert all(int(keys[j]) == k for j, k in rkeys.items())
    assert g.sum() > 0
    assert np.array_equal(g, rg) and np.array_equal(h[g], rh[rg])


def test_hints_read_only_the_stream_prefix():
    rng = np.random.default_rng(1)
    tok = rng.integers(0, 4, 2000).astype(np.uint16)
    cfg = NgramTiltConfig(order=3, threshold=0.4)
    h, g = build_hints(tok, cfg)
    for p in (5, 700, 1500):
        alt = tok.copy()
        alt[p] = (alt[p] + 1) % 4
        h2, g2 = build_hints(alt, cfg)
        assert np.array_equal(g2[: p + 1], g[: p + 1]) and np.array_equal(h2[: p + 1], h[: p + 1])


def test_tilted_distribution_sums_to_one_and_matches_the_closed_form():
    torch.manual_seed(0)
    V, beta = 50, 2.625
    z = torch.randn(40, V, dtype=torch.float64) * 3
    y, h = torch.randint(0, V, (40,)), torch.randint(0, V, (40,))
    y[:10] = h[:10]  # some hits
    gate = torch.rand(40) < 0.7
    logp = torch.log_softmax(z, -1)
    tilt = torch.where(gate[:, None] & (torch.arange(V)[None] == h[:, None]), beta, 0.0)
    p_new = torch.softmax(logp + tilt, -1)  # p(a)·e^{β·1[a=h]} / Z, over the whole vocabulary
    assert torch.allclose(p_new.sum(-1), torch.ones(40, dtype=torch.float64), atol=1e-12)  # C2
    nll = -logp.gather(1, y[:, None]).squeeze(1)
    log_q = logp.gather(1, h[:, None]).squeeze(1)
    got = tilted_nll(nll, log_q, y, h, gate, beta)
    assert torch.allclose(got, -torch.log(p_new.gather(1, y[:, None]).squeeze(1)), atol=1e-12)
    assert torch.equal(got[~gate], nll[~gate])
