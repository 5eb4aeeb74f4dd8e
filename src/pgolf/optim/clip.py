"""Gradient clipping on the global gradient norm, computed the same way on every path.

‖g‖ = √(Σ over every gradient tensor of Σ g²), each tensor's sum of squares accumulated in float64 (an fp32 square
is exact in fp64, so the sum barely depends on the order or on how tensors are split across ranks), then
g ← g·min(1, c/(‖g‖ + 1e-6)) — torch.nn.utils.clip_grad_norm_'s coefficient (SPEC_SEEDS.md §1.4: GRAD_CLIP_NORM 0.3).
It is applied to the *reduced* gradient: DDP-averaged, or, on the sharded path, the averaged replicated gradients
plus every rank's reduce-scattered Muon shard (the shard sums are all-reduced). #1473 clipped each rank's local
gradient instead (SPEC_SEEDS.md §6.15). Order-independence is what lets 1, 2 or 8 ranks take identical steps.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def sum_squares(tensors: list[Tensor]) -> Tensor:
    """Σ g² over the tensors, in float64 (0-dim)."""
    total = torch.zeros((), dtype=torch.float64, device=tensors[0].device) if tensors else torch.zeros(())
    for t in tensors:
        total = total + torch.linalg.vector_norm(t, dtype=torch.float64).square()
    return total


def clip_coefficient(norm: Tensor, max_norm: float) -> Tensor:
    return (max_norm / (norm + 1e-6)).clamp(max=1.0).float()


def clip_global_(tensors: list[Tensor], max_norm: float, sharded: list[Tensor] | None = None) -> Tensor:
    """Scale every tensor by the global clip coefficient; `sharded` tensors differ per rank and their squared sums
    are all-reduced (the others are identical on every rank). → the global norm (float64)."""
    sq = sum_squares(tensors)
    if sharded is not None:
        own = sum_squares(sharded).to(sq.device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(own, op=dist.ReduceOp.SUM)
        sq = sq + own
    norm = sq.sqrt()
    coef = clip_coefficient(norm, max_norm)
    for t in tensors + (sharded or []):
        t.mul_(coef.to(t.dtype))
    return norm
