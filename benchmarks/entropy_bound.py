"""How much could any entropy coder gain on a model's quantized matrices? Ideal code lengths under simple contexts.

    python benchmarks/entropy_bound.py RUN/model.pga [--policy pr1473] [--classes 4]

The artifact's weights are re-quantized by `--policy` (as benchmarks/codecs.py does); for every integer matrix the
ideal (empirical-entropy) size is summed under: one histogram per matrix (order 0); per column-spread class; per
row-spread class; per row × column class; and per |left neighbour| magnitude bucket. Histograms are counted as free
(an optimistic bound: a real coder also stores its tables and class ids); the last line pays for them, with one
row × column table per bit width shared by every matrix; the one before them
fits one discretized Gaussian per (matrix, row class, column class) and pays only its σ, and the one before
that codes each such context adaptively (counts learned while coding, nothing stored). The reference is the same int8 values
concatenated and compressed by lzma-9 (extreme). If even the free-table bound is within a few % of lzma, no static
context model on these values can do much better — that is a property of the weights, not of the coder.
"""

from __future__ import annotations

import argparse
import lzma
from pathlib import Path

import numpy as np
import torch

from pgolf.artifact.model_file import load_artifact
from pgolf.config import Config, override
from pgolf.quant.policy import policy_for, quantize_state_dict


def entropy_bytes(x: np.ndarray) -> float:
    _, c = np.unique(x, return_counts=True)
    return float(-(c * np.log2(c / c.sum())).sum() / 8)


def context_bytes(q: np.ndarray, ctx: np.ndarray) -> float:
    return sum(entropy_bytes(q[ctx == c]) for c in np.unique(ctx))


def gaussian_bytes(v: np.ndarray, bits: int) -> float:
    """Ideal bytes of v under a discretized N(0, std(v)²) over the bit width's range (probability floor 2^-14):
    a parametric model whose only stored parameter is one σ."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    sigma = max(float(v.std()), 0.3)
    edges = torch.arange(lo, hi + 2, dtype=torch.float64) - 0.5
    p = torch.special.ndtr(edges / sigma).diff().clamp_min(2.0**-14).numpy()
    p /= p.sum()
    return float(-np.log2(p[v.astype(np.int64) - lo]).sum() / 8)


def adaptive_bytes(v: np.ndarray, bits: int, alpha: float = 0.5) -> float:
    """Exact code length of v under an adaptive (Krichevsky–Trofimov, Dirichlet(α)) model over the bit width's 2^bits
    symbols that learns its counts as it codes — no table stored: −log2 Γ(αK)/Γ(n+αK) ∏ Γ(c_s+α)/Γ(α)."""
    return kt_bytes(v.astype(np.int64) + 2 ** (bits - 1), 2**bits, alpha)


def kt_bytes(symbols: np.ndarray, K: int, alpha: float = 0.5) -> float:
    """The adaptive code length above for symbols in [0, K)."""
    c = torch.bincount(torch.from_numpy(symbols.astype(np.int64)), minlength=K).double()
    a = torch.tensor(alpha, dtype=torch.float64)
    nats = torch.lgamma(a * K) - torch.lgamma(c.sum() + a * K) + (torch.lgamma(c + a) - torch.lgamma(a)).sum()
    return float(-nats / np.log(2) / 8)


def _prefix_log_mean(a: np.ndarray, axis: int, k0: float, g: float) -> np.ndarray:
    """log2 of the shrunk mean |q| of the values before each position along `axis` (k0 pseudo-values at 2^g)."""
    n = a.shape[axis]
    s = np.cumsum(a, axis) - a
    cnt = np.arange(n).reshape((-1, 1) if axis == 0 else (1, -1))
    return np.log2((s + k0 * 2**g) / (cnt + k0) + 0.5) - g


def scale_context_bytes(mats: list[tuple[np.ndarray, int]], causal: bool, adaptive: bool, per_bit: int = 4,
                        k0: float = 2.0) -> float:
    """Magnitudes |q| coded per bucket of a predicted log-scale, signs raw (1 bit per non-zero), one σ byte per matrix.

    causal: the scale of (r, c) is g · (row-prefix mean / g) · (column-prefix mean / g) from the values left of it in
    its row and above it in its column — a context a decoder has when it decodes anti-diagonal by anti-diagonal
    (vectorisable). Otherwise the oracle: the whole row's and column's mean (rank-1 scale, not decodable, a bound).
    adaptive: KT counts per (bits, bucket) learned while coding (nothing stored); else free static histograms.
    """
    groups: dict[tuple[int, int], list[np.ndarray]] = {}
    extra = 0.0
    for q, bits in mats:
        a = np.abs(q).astype(np.float64)
        g = np.log2(a.mean() + 0.5)
        if causal:
            ls = g + _prefix_log_mean(a, 1, k0, g) + _prefix_log_mean(a, 0, k0, g)
        else:
            ls = np.broadcast_to(np.log2(a.mean(1, keepdims=True) * a.mean(0, keepdims=True) / a.mean() + 0.5), a.shape)
        b = np.clip(np.round(ls * per_bit).astype(np.int64), -4 * per_bit, 9 * per_bit)
        extra += 1 + int((q != 0).sum()) / 8
        for bb in np.unique(b):
            groups.setdefault((bits, int(bb)), []).append(np.abs(q)[b == bb])
    total = extra
    for (bits, _), vs in groups.items():
        v = np.concatenate(vs)
        total += kt_bytes(v, 2 ** (bits - 1) + 1) if adaptive else entropy_bytes(v)
    return total


def spread_classes(spread: np.ndarray, k: int) -> np.ndarray:
    return np.searchsorted(np.quantile(spread, np.linspace(0, 1, k + 1)[1:-1]), spread)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("artifact", type=Path)
    ap.add_argument("--policy", default="pr1473")
    ap.add_argument("--classes", type=int, default=4)
    a = ap.parse_args()
    mcfg, state, _ = load_artifact(a.artifact)
    cfg = override(Config(), {"model.num_layers": mcfg.num_layers, "quant.keep_float_max_numel": 4096,
                              "quant.policy": a.policy})
    tensors, qmeta = quantize_state_dict(state, policy_for(cfg.quant, cfg.model.num_layers))
    k = a.classes
    sizes = {"order 0 (per matrix)": 0.0, f"column class ({k})": 0.0, f"row class ({k})": 0.0,
             f"row × column ({k}×{k})": 0.0, "|left neighbour| bucket": 0.0}
    raw, n_values = [], 0
    shared: dict[tuple[int, int], np.ndarray] = {}  # (bits, row×column class) → counts over all matrices
    side = 0.0  # class ids of rows and columns, log2(k) bits each
    gauss = 0.0  # parametric: one σ (2 bytes) per (matrix, row class, column class)
    adaptive = 0.0  # adaptive counts per (matrix, row class, column class): nothing stored but the class ids
    for name, t in tensors.items():
        if name not in qmeta or qmeta[name]["kind"] != "int" or t.ndim != 2:
            continue
        q = t.numpy().astype(np.int16)
        raw.append(q.astype(np.int8).tobytes())
        n_values += q.size
        cols = spread_classes(q.std(0), k)[None, :]
        rows = spread_classes(q.std(1), k)[:, None]
        left = np.concatenate([np.zeros((q.shape[0], 1), np.int16), np.abs(q[:, :-1])], 1)
        keys = list(sizes)
        sizes[keys[0]] += entropy_bytes(q)
        sizes[keys[1]] += context_bytes(q, np.broadcast_to(cols, q.shape))
        sizes[keys[2]] += context_bytes(q, np.broadcast_to(rows, q.shape))
        rc = np.broadcast_to(rows * k + cols, q.shape)
        sizes[keys[3]] += context_bytes(q, rc)
        side += sum(q.shape) * np.log2(k) / 8
        adaptive += sum(adaptive_bytes(q[rc == c], qmeta[name]["bits"]) for c in range(k * k) if (rc == c).any())
        gauss += sum(gaussian_bytes(q[rc == c], qmeta[name]["bits"]) + 2 for c in range(k * k) if (rc == c).any())
        for c in range(k * k):
            hist = shared.setdefault((qmeta[name]["bits"], c), np.zeros(256))
            hist += np.bincount(q[rc == c].ravel() + 128, minlength=256)
        sizes[keys[4]] += context_bytes(q, np.minimum(np.log2(left + 1).astype(np.int64), 7))
    ref = len(lzma.compress(b"".join(raw), preset=9 | lzma.PRESET_EXTREME))
    print(f"# {a.artifact}: {n_values:,} integer values (policy {a.policy}); int8 + lzma-9 = {ref:,} B")
    print("| model of the values (free tables) | ideal bytes | vs int8 + lzma-9 |\n|---|---|---|")
    for key, v in sizes.items():
        print(f"| {key} | {v:,.0f} | {v / ref - 1:+.2%} |")
    # paid for: one row × column table per bit width shared by all matrices, 1.5 B per used symbol, plus class ids
    ideal = sum(entropy_bytes(np.repeat(np.arange(256), h.astype(np.int64))) for h in shared.values() if h.sum())
    tables = sum(1.5 * int((h > 0).sum()) for h in shared.values())
    total = ideal + tables + side
    print(f"| row × column, per-matrix adaptive (KT) counts + class ids | {adaptive + side:,.0f} | "
          f"{(adaptive + side) / ref - 1:+.2%} |")
    print(f"| row × column, per-matrix discretized Gaussian (σ stored) + class ids | {gauss + side:,.0f} | "
          f"{(gauss + side) / ref - 1:+.2%} |")
    print(f"| row × column, shared tables paid ({tables:,.0f} B) + class ids ({side:,.0f} B) | {total:,.0f} | "
          f"{total / ref - 1:+.2%} |")
    mats = [(t.numpy().astype(np.int64), qmeta[n]["bits"]) for n, t in tensors.items()
            if n in qmeta and qmeta[n]["kind"] == "int" and t.ndim == 2]
    for label, causal, adaptive in (("row+column prefix scale, adaptive KT (decodable)", True, True),
                                    ("row+column prefix scale, free tables", True, False),
                                    ("ORACLE whole row × column scale, free tables", False, False)):
        v = scale_context_bytes(mats, causal, adaptive)
        print(f"| {label} | {v:,.0f} | {v / ref - 1:+.2%} |")
    import brotli  # noqa: PLC0415 (dev extra)

    tr = len(brotli.compress(b"".join(q.T.astype(np.int8).tobytes() for q, _ in mats), quality=11, lgwin=24))
    print(f"| transposed int8 containers + brotli-11 (a real codec) | {tr:,} | {tr / ref - 1:+.2%} |")


if __name__ == "__main__":
    main()
