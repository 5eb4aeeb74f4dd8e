"""Interleaved rANS with static per-context frequency tables, vectorised over lanes with numpy.

Why: quantized weights are close to i.i.d. within a tensor, so the order-0 entropy of each tensor's histogram is
the bound, and general-purpose codecs stay well above it (lzma-9 is ~9-10% above it on int6 Gaussian weights;
benchmarks/codecs.py). rANS with the exact per-tensor histogram (one "context" per tensor) gets within a fraction
of a percent. Source: J. Duda, "Asymmetric numeral systems" (2013); F. Giesen's interleaved word-rANS (ryg_rans).

Format (all little-endian): a stream of symbols s_i ∈ [0, K) with a context id ctx_i. Lane j codes positions
j, j+N, j+2N, … (N lanes). State x ∈ [L, 2³²), L = 2¹⁶, probabilities quantized to M = 2^PROB_BITS.
Encode (positions in reverse): if x ≥ 2^(32−P)·f: emit the low 16 bits, x >>= 16; then x = (x div f)·M + x mod f + c.
Decode: slot = x mod M, s = lut[slot], x = f·(x >> P) + slot − c, then if x < L: x = x·2¹⁶ + next word.
The words a decoder needs at step t are exactly those the encoder emitted at step t, so they are stored step-major
(lane order within a step) with no per-lane offsets; the N final states follow as u32. Invariants: decode ∘ encode
is the identity; every lane ends in state L (checked: a corrupt stream is an error, not garbage).
"""

from __future__ import annotations

import numpy as np

PROB_BITS = 15
M = 1 << PROB_BITS
L = 1 << 16
LANES = 4096  # at most; a stream of n symbols uses clamp(n // 2048, 1, LANES) lanes (4 bytes of final state each)


def lanes_for(n: int) -> int:
    return max(1, min(LANES, n // 2048))


def quantize_freqs(counts: np.ndarray) -> np.ndarray:
    """Histogram → frequencies summing to M, every present symbol ≥ 1 (uint32)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        raise ValueError("empty histogram")
    f = np.where(counts > 0, np.maximum(1, (counts * M) // total), 0)
    # hand out the remainder by largest fractional part, or take it back from the largest frequencies
    diff = M - int(f.sum())
    if diff > 0:
        frac = (counts * M) % total
        order = np.argsort(-frac, kind="stable")
        order = order[counts[order] > 0]
        for k in range(diff):
            f[order[k % len(order)]] += 1
    while diff < 0:
        i = int(np.argmax(f))
        take = min(-diff, int(f[i]) - 1)
        if take <= 0:
            raise ValueError("histogram has more symbols than the probability precision allows")
        f[i] -= take
        diff += take
    assert int(f.sum()) == M
    return f.astype(np.uint32)


def _tables(freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative starts (C, K), slot → symbol lut (C, M))."""
    cum = np.zeros_like(freqs, dtype=np.uint32)
    cum[:, 1:] = np.cumsum(freqs, axis=1)[:, :-1]
    lut = np.empty((freqs.shape[0], M), dtype=np.uint8 if freqs.shape[1] <= 256 else np.uint16)
    for c in range(freqs.shape[0]):
        lut[c] = np.repeat(np.arange(freqs.shape[1]), freqs[c])
    return cum, lut


def encode(sym: np.ndarray, ctx: np.ndarray, freqs: np.ndarray, lanes: int | None = None) -> bytes:
    """sym, ctx: int arrays of one length; freqs (C, K) with rows summing to M; freqs[ctx_i, sym_i] > 0."""
    n = int(sym.size)
    if n == 0:
        return b""
    N = min(lanes or lanes_for(n), n)
    T = -(-n // N)
    pad = T * N - n
    S = np.concatenate([sym.astype(np.int64), np.zeros(pad, np.int64)]).reshape(T, N)
    X = np.concatenate([ctx.astype(np.int64), np.zeros(pad, np.int64)]).reshape(T, N)
    f64 = freqs.astype(np.uint64)
    cum = _tables(freqs)[0].astype(np.uint64)
    if np.any(f64[X[:T - 1], S[:T - 1]] == 0) or np.any(f64[X[-1, :N - pad], S[-1, :N - pad]] == 0):
        raise ValueError("a symbol has zero frequency in its context")
    x = np.full(N, L, dtype=np.uint64)
    words = np.zeros((T, N), dtype=np.uint16)
    emitted = np.zeros((T, N), dtype=bool)
    active = np.ones(N, dtype=bool)
    for t in range(T - 1, -1, -1):
        if t == T - 1 and pad:
            active = np.arange(N) < N - pad
        s, c = S[t], X[t]
        f = f64[c, s]
        big = active & (x >= (f << np.uint64(32 - PROB_BITS)))
        words[t] = (x & np.uint64(0xFFFF)).astype(np.uint16)
        emitted[t] = big
        x = np.where(big, x >> np.uint64(16), x)
        nx = (x // np.maximum(f, 1) << np.uint64(PROB_BITS)) + x % np.maximum(f, 1) + cum[c, s]
        x = np.where(active, nx, x)
        active = np.ones(N, dtype=bool)
    head = np.array([n, N], dtype="<u4").tobytes()
    return head + x.astype("<u4").tobytes() + words[emitted].astype("<u2").tobytes()


def decode(data: bytes, ctx: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """The inverse of `encode` given the same contexts and tables. Raises ValueError on a corrupt stream."""
    n = int(ctx.size)
    if n == 0:
        if data:
            raise ValueError("rans: data for an empty stream")
        return np.zeros(0, dtype=np.int64)
    if len(data) < 8:
        raise ValueError("rans: truncated header")
    n_rec, N = (int(v) for v in np.frombuffer(data[:8], dtype="<u4"))
    if n_rec != n or not 1 <= N <= n or len(data) < 8 + 4 * N or (len(data) - 8 - 4 * N) % 2:
        raise ValueError("rans: header does not match the stream")
    x = np.frombuffer(data[8:8 + 4 * N], dtype="<u4").astype(np.uint64)
    wstream = np.frombuffer(data[8 + 4 * N:], dtype="<u2").astype(np.uint64)
    cum, lut = _tables(freqs)
    f64, cum = freqs.astype(np.uint64), cum.astype(np.uint64)
    T = -(-n // N)
    X = np.concatenate([ctx.astype(np.int64), np.zeros(T * N - n, np.int64)]).reshape(T, N)
    out = np.empty((T, N), dtype=np.int64)
    k = 0
    mask = np.uint64(M - 1)
    for t in range(T):
        width = N if t < T - 1 else n - t * N
        c = X[t, :width]
        xs = x[:width]
        slot = xs & mask
        s = lut[c, slot.astype(np.int64)].astype(np.int64)
        xs = f64[c, s] * (xs >> np.uint64(PROB_BITS)) + slot - cum[c, s]
        need = xs < L
        cnt = int(need.sum())
        if k + cnt > wstream.size:
            raise ValueError("rans: stream is truncated")
        xs[need] = (xs[need] << np.uint64(16)) | wstream[k:k + cnt]
        k += cnt
        x[:width] = xs
        out[t, :width] = s
    if k != wstream.size or np.any(x != L):
        raise ValueError("rans: stream is corrupt (final states or word count do not match)")
    return out.reshape(-1)[:n]
