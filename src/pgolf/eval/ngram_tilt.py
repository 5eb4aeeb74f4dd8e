"""Token-only online n-gram tilt (#2135, after #1145/#1514; SPEC_FRONTIER.md §5.6).

Hints. For every target j of the stream, the context is the L = order − 1 tokens before it. Over the stream, in
order, each position first *asks* the table of its context — the most frequent follower seen so far, top_tok, and
its share top_count / total — and then *adds* its own (context, token) pair. The hint h_j = top_tok is kept when
the share (float32, as the record's helper computes it) is ≥ threshold; otherwise position j is not tilted. So
h_j depends only on tokens[< j] (C1), at most one token is proposed, and the target never enters its own lookup
(the #779 family's bug). The record's "within-word" and "word-start" experts stay off: they read the target.

Tilt. With q = p(h | prefix) from the model and β = boost, the distribution p'(a) = p(a)·e^{β·1[a=h]} / Z with
Z = 1 + q(e^β − 1) sums to 1 over the whole vocabulary (C2; tested), and −log p'(y) = −log p(y) − β·1[y=h] +
log1p(q·(e^β − 1)). It changes scoring only; TTT trains on the untilted loss, as in #2135.

Same keys as the record's C helper (online_ngram_state.c): the context hash XORs token·c_k over the L positions
(c_k the helper's rolling coefficients, oldest first), and the helper is seeded with the first target, so the
stream's first token counts as a copy of the second. Top-token ties keep the token that reached the count first.
Pairs are grouped by (context key, token) exactly, where the helper hashes the pair again (a collision there is a
2⁻⁶⁴ event). Everything is vectorised numpy (sorts and segmented scans), no compiled helper.

Causality is in stream order: a hint is a statistic of the stream prefix, built before the pass; it does not read
losses, so it is not a score-first update (the TTT ledger does not cover it).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from pgolf.eval.config import NgramTiltConfig

COEFFS = np.array([
    36313, 27191, 51647, 81929, 131071, 196613, 262147, 393241, 524309, 655373, 786433, 917521, 1048583,
    1179653, 1310729, 1441801, 1572869, 1703941, 1835017, 1966087, 2097169, 2228243, 2359319, 2490389,
    2621471, 2752549, 2883617, 3014687, 3145757, 3276833, 3407903, 3538973], dtype=np.uint64)


def context_keys(tokens: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(key, valid) per stream index j = 0..N: the hash of tokens[j−L .. j−1]; valid once L tokens precede j."""
    L = order - 1
    s = np.asarray(tokens).astype(np.uint64)
    if s.size > 1:
        s[0] = s[1]  # the record seeds its ring with the first target (module docstring)
    n = s.size
    keys = np.zeros(n, dtype=np.uint64)
    valid = np.arange(n) >= max(L, 1)
    for k in range(L):  # position j − L + k, coefficient k (oldest first)
        lag = L - k
        keys[lag:] ^= s[: n - lag] * COEFFS[k % COEFFS.size]
    return keys, valid


def build_hints(tokens: np.ndarray, cfg: NgramTiltConfig) -> tuple[np.ndarray, np.ndarray]:
    """(hint, gate) aligned to stream indices 0..N (index 0 unused): hint[j] the proposed token for target j."""
    tok = np.asarray(tokens).astype(np.int64)
    n = tok.size
    hint, gate = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    keys, valid = context_keys(tokens, cfg.order)
    pos = np.flatnonzero(valid)
    if pos.size == 0:
        return hint, gate
    k, t = keys[pos], tok[pos]
    order = np.lexsort((pos, k))  # events grouped by context, stream order inside a group
    k, t, p = k[order], t[order], pos[order]
    m = k.size
    idx = np.arange(m)
    start = np.r_[True, k[1:] != k[:-1]]
    gstart = np.maximum.accumulate(np.where(start, idx, 0))
    gid = np.cumsum(start) - 1
    # count of (context, token) after each event: rank inside its (context, token) group, stream order
    po = np.lexsort((p, t, k))
    pstart = np.r_[True, (k[po][1:] != k[po][:-1]) | (t[po][1:] != t[po][:-1])]
    prank = np.arange(m) - np.maximum.accumulate(np.where(pstart, np.arange(m), 0))
    pc = np.empty(m, dtype=np.int64)
    pc[po] = prank + 1
    big = np.int64(m + 1)
    top = np.maximum.accumulate(pc + gid * big) - gid * big  # running max of pc inside the group
    prev_top = np.r_[0, top[:-1]]
    record = start | (pc > prev_top)
    last_rec = np.maximum.accumulate(np.where(record, idx, 0))
    ask = ~start  # the state after the event before, in the same group
    q_top, q_total = prev_top[ask], (idx - gstart)[ask]
    q_tok = t[np.r_[0, last_rec[:-1]][ask]]
    share = q_top.astype(np.float32) / q_total.astype(np.float32)
    ok = share >= np.float32(cfg.threshold)
    hint[p[ask][ok]] = q_tok[ok]
    gate[p[ask][ok]] = True
    return hint, gate


def tilted_nll(nll: Tensor, log_q: Tensor, y: Tensor, hint: Tensor, gate: Tensor, boost: float) -> Tensor:
    """−log p'(y) in float64: nll − β·1[y = h] + log1p(q·(e^β − 1)) where gated, nll elsewhere."""
    nll64 = nll.to(torch.float64)
    q = log_q.to(torch.float64).clamp(max=0.0).exp()
    hit = (y == hint).to(torch.float64)
    tilted = nll64 - boost * hit + torch.log1p(q * float(np.expm1(boost)))
    return torch.where(gate, tilted, nll64)
