"""Pruning before and after quantization.

Magnitude pruning (#295 8%, #443 3%; SPEC_SEEDS §1.7): for every float matrix with more than `min_numel` elements —
tied embedding and bigram table included — τ = the `frac`-quantile of |W| over the whole tensor, and entries with
|w| < τ become 0 (lower entropy and runs of zeros for the codec). Applied to a copy of the state dict.

Selective ±1 pruning (#1473): candidates are quantized entries with |q| = 1 in tensors of the chosen widths; zeroing
one costs s_row² of squared dequantization error. If code + model bytes exceed the target (DECIMAL bytes — #1473's
target was 15.9·1024² = 16,672,358, above the 16,000,000 cap; SPEC_SEEDS §6.10), binary-search the smallest n such
that zeroing the n cheapest candidates fits, re-encoding the artifact at each probe. Invariant: the result fits, or
a PgolfError says that even zeroing every candidate does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor

from pgolf.errors import PgolfError
from pgolf.quant.config import MagnitudePruneConfig


def quantile_abs(t: Tensor, q: float) -> float:
    a = t.detach().abs().float().flatten()
    if a.numel() <= 16_000_000:
        return float(torch.quantile(a, q))
    return float(np.quantile(a.numpy(), q))


def magnitude_prune(state: Mapping[str, Tensor], cfg: MagnitudePruneConfig) -> dict[str, Tensor]:
    out = {}
    for name, t in state.items():
        if cfg.frac > 0 and t.is_floating_point() and t.ndim == 2 and t.numel() > cfg.min_numel:
            tau = quantile_abs(t, cfg.frac)
            t = torch.where(t.abs() < tau, torch.zeros((), dtype=t.dtype), t)
        out[name] = t
    return out


def pm1_candidates(tensors: Mapping[str, Tensor], meta: Mapping[str, dict], bits: tuple[int, ...]):
    """(names, per-candidate tensor index, flat index, cost), sorted by cost (ties: tensor, position)."""
    names = sorted(n for n, i in meta.items() if i.get("kind") == "int" and i.get("bits") in bits)
    tid, pos, cost = [], [], []
    for k, n in enumerate(names):
        q = tensors[n].reshape(tensors[n].shape[0], -1) if tensors[n].ndim >= 2 else tensors[n].reshape(1, -1)
        s = tensors[n + ".scale"].float()
        s = s.reshape(-1, 1) if s.ndim else s.reshape(1, 1).expand(q.shape[0], 1)
        rows, cols = torch.nonzero(q.abs() == 1, as_tuple=True)
        tid.append(np.full(rows.numel(), k))
        pos.append((rows * q.shape[1] + cols).numpy())
        cost.append(s[rows, 0].square().numpy())
    if not names:
        return names, np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    tid, pos, cost = np.concatenate(tid), np.concatenate(pos), np.concatenate(cost)
    order = np.lexsort((pos, tid, cost))
    return names, tid[order], pos[order], cost[order]


def zero_first(tensors: Mapping[str, Tensor], names, tid, pos, n: int) -> dict[str, Tensor]:
    out = dict(tensors)
    for k, name in enumerate(names):
        sel = pos[:n][tid[:n] == k]
        if sel.size:
            q = out[name].clone()
            q.view(-1)[torch.from_numpy(sel)] = 0
            out[name] = q
    return out


def selective_prune(tensors: Mapping[str, Tensor], meta: Mapping[str, dict], total_bytes: Callable[[dict], int],
                    target: int, bits: tuple[int, ...] = (6,), log: Callable[[str], None] = print):
    """→ (tensors that fit, info). `total_bytes(tensors)` = code + model bytes of the artifact they encode to."""
    names, tid, pos, cost = pm1_candidates(tensors, meta, bits)
    size0 = total_bytes(dict(tensors))
    info = {"candidates": int(tid.size), "pruned": 0, "bytes_before": size0, "bytes_after": size0, "probes": 1}
    if size0 <= target:
        log(f"selective ±1 pruning: {size0:,} bytes already fit {target:,} ({tid.size:,} candidates)")
        return dict(tensors), info
    all_zero = zero_first(tensors, names, tid, pos, tid.size)
    size_all = total_bytes(all_zero)
    info["probes"] += 1
    if size_all > target:
        raise PgolfError(f"selective ±1 pruning: {size_all:,} bytes even with all {tid.size:,} ±1 values zeroed, "
                         f"over the target {target:,}")
    lo, hi, best = 0, int(tid.size), (all_zero, size_all)  # fits(hi) holds, fits(lo) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        cand = zero_first(tensors, names, tid, pos, mid)
        size = total_bytes(cand)
        info["probes"] += 1
        if size <= target:
            hi, best = mid, (cand, size)
        else:
            lo = mid
    info.update(pruned=hi, bytes_after=best[1])
    log(f"selective ±1 pruning: zeroed {hi:,} of {tid.size:,} candidates, {size0:,} → {best[1]:,} bytes "
        f"(target {target:,}, {info['probes']} probes)")
    return best[0], info
