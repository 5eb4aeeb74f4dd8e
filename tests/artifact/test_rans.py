"""The rANS coder (artifact/rans.py): round trips with contexts, within 1% of the order-0 entropy, corrupt input
refused, and quantized frequencies that keep every present symbol."""

from __future__ import annotations

import numpy as np
import pytest

from pgolf.artifact import rans


def test_rans_round_trip_contexts_and_entropy():
    rng = np.random.default_rng(1)
    n = 50_000
    ctx = np.repeat([0, 1, 2], [20_000, 29_999, 1])
    sym = np.concatenate([rng.integers(0, 4, 20_000), np.clip(rng.normal(30, 3, 29_999).round(), 0, 62), [62]])
    sym = sym.astype(np.int64)
    freqs = np.zeros((3, 63), np.uint32)
    for c in range(3):
        freqs[c] = rans.quantize_freqs(np.bincount(sym[ctx == c], minlength=63))
    blob = rans.encode(sym, ctx, freqs)
    assert np.array_equal(rans.decode(blob, ctx, freqs), sym)
    ent = 0.0
    for c in range(3):
        p = np.bincount(sym[ctx == c]) / (ctx == c).sum()
        p = p[p > 0]
        ent -= float(p @ np.log2(p)) * int((ctx == c).sum()) / 8
    assert len(blob) < ent * 1.01 + 8 + 4 * rans.lanes_for(n) + 64  # within 1% of the order-0 entropy
    with pytest.raises(ValueError):
        rans.decode(blob[:-2], ctx, freqs)
    bad = bytearray(blob)
    bad[-5] ^= 0xFF
    with pytest.raises(ValueError):
        rans.decode(bytes(bad), ctx, freqs)


def test_quantize_freqs_keeps_every_symbol():
    f = rans.quantize_freqs(np.array([10**9, 1, 0, 1, 5]))
    assert int(f.sum()) == rans.M and f[1] >= 1 and f[3] >= 1 and f[2] == 0
