"""Magnitude pruning against a sort-based reference; selective ±1 pruning lands under a decimal target with the
smallest number of the cheapest ±1 values zeroed."""

from __future__ import annotations

import lzma

import pytest
import torch

from pgolf.artifact.pack import pack
from pgolf.config import MagnitudePruneConfig
from pgolf.errors import PgolfError
from pgolf.quant.prune import magnitude_prune, pm1_candidates, selective_prune, zero_first
from pgolf.quant.rtn import IntSpec, quantize_rows


def test_magnitude_prune_matches_sorted_reference():
    g = torch.Generator().manual_seed(0)
    sd = {"big": torch.randn(300, 300, generator=g), "small": torch.randn(10, 10, generator=g),
          "vec": torch.randn(100_000, generator=g), "idx": torch.arange(5)}
    out = magnitude_prune(sd, MagnitudePruneConfig(frac=0.08, min_numel=65_536))
    a = sd["big"].abs().flatten().sort().values
    pos = 0.08 * (a.numel() - 1)
    tau = a[int(pos)] + (pos - int(pos)) * (a[int(pos) + 1] - a[int(pos)])
    want = torch.where(sd["big"].abs() < tau, 0.0, sd["big"])
    assert torch.equal(out["big"], want)
    assert abs((out["big"] == 0).float().mean().item() - 0.08) < 1e-3
    for k in ("small", "vec", "idx"):  # ≤ min_numel, or not a matrix: untouched
        assert torch.equal(out[k], sd[k])


def _quantized(seed=0):
    g = torch.Generator().manual_seed(seed)
    tensors, meta = {}, {}
    for i, (r, c) in enumerate([(64, 96), (32, 96)]):
        w = torch.randn(r, c, generator=g) * 0.02 * (i + 1)
        q, s = quantize_rows(w, IntSpec(6, "absmax", floor=False))
        tensors[f"w{i}"], tensors[f"w{i}.scale"] = q, s
        meta[f"w{i}"] = {"kind": "int", "bits": 6}
    return tensors, meta


def _size(tensors) -> int:
    return len(lzma.compress(pack(tensors, {}), preset=1)) + 1000  # "+ code bytes"


def test_selective_prune_lands_under_the_target_minimally():
    tensors, meta = _quantized()
    names, tid, pos, cost = pm1_candidates(tensors, meta, (6,))
    assert tid.size == sum(int((tensors[n].abs() == 1).sum()) for n in names) and torch.all(torch.tensor(cost).diff() >= 0)
    size0, size_all = _size(tensors), _size(zero_first(tensors, names, tid, pos, tid.size))
    target = (size0 + size_all) // 2
    out, info = selective_prune(tensors, meta, _size, target, (6,), log=lambda s: None)
    n = info["pruned"]
    assert _size(out) <= target == target and info["bytes_after"] == _size(out)
    assert 0 < n < tid.size and _size(zero_first(tensors, names, tid, pos, n - 1)) > target
    # exactly the n cheapest ±1 values became 0, nothing else changed
    changed = sum(int((out[k] != tensors[k]).sum()) for k in names)
    assert changed == n
    zeroed, kept = [], []
    for k in names:
        row_cost = tensors[f"{k}.scale"].float().square()[:, None].expand_as(tensors[k])
        pm1 = tensors[k].abs() == 1
        zeroed.append(row_cost[pm1 & (out[k] == 0)])
        kept.append(row_cost[pm1 & (out[k] != 0)])
    assert torch.cat(zeroed).max() <= torch.cat(kept).min()

def test_selective_prune_no_op_and_impossible_target():
    tensors, meta = _quantized(1)
    out, info = selective_prune(tensors, meta, _size, 10**9, (6,), log=lambda s: None)
    assert info["pruned"] == 0 and all(torch.equal(out[k], tensors[k]) for k in tensors)
    with pytest.raises(PgolfError, match="over the target 10"):
        selective_prune(tensors, meta, _size, 10, (6,), log=lambda s: None)
