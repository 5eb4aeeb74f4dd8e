"""Backout: subtract a learned fraction of a middle layer's output from the final residual stream.

Idea (README of #295): "prevents over-reliance on early representations". Source: PR #295; SPEC_SEEDS.md §1.3.

Maths: with b = `layer` (default ⌊L/2⌋, the first decoder block), x_b is the output of block b (taken after its U-Net
skip was added and the block ran). After the last block, x ← x − λ·x_b, then the final RMSNorm. λ is a learned scalar
(init 0.2; a control tensor, scalar Adam). λ = 0 is the plain model. Causal (per position).

Parameter name (kept from the seed): backout_lambda (shape (1,)). Params: 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class BackoutConfig:
    """x ← x − λ·x_layer after the last block (λ learned, init 0.2)."""

    init: float = 0.2
    layer: int | None = None  # None = ⌊num_layers/2⌋ (the seed's choice)


def backout_layer(cfg: BackoutConfig, num_layers: int) -> int:
    return num_layers // 2 if cfg.layer is None else cfg.layer


def apply_backout(x: Tensor, x_mid: Tensor, lam: Tensor) -> Tensor:
    return x - lam.to(x.dtype) * x_mid
