"""Value residual: every layer's V is mixed with the raw V of layer 0.

Idea: keep a direct path to the first layer's values so deep attention does not lose the token signal. Source:
arXiv 2410.17897 (ResFormer), as used by PR #601 (README: −0.015 BPB); SPEC_SEEDS.md §1.3.

Maths: v0 = the raw V projection of layer 0 (after any value-embedding addition, before mixing). In every later layer
v ← λ0·v0 + λ1·v with a learned `vr_lambda` = (λ0, λ1), init (0.5, 0.5), per layer. Layer 0 owns a λ but never uses
it (the seed does the same; DDP there needs find_unused_parameters). Gradients reach layer 0's W_v from every layer.
λ = (0, 1) is the plain model. Per position, so causal. (#1473 threads v0 through its blocks but never reads it —
dead code, so its recipe has no value_residual block.)

Parameter name (kept from the seed): blocks.{i}.attn.vr_lambda (fp32 control, scalar Adam). Params: 2 per layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class ValueResidualConfig:
    """v ← λ0·v0 + λ1·v in every layer after the first (λ learned per layer)."""

    lambda_init: tuple[float, float] = (0.5, 0.5)


def mix_value_residual(v: Tensor, v0: Tensor, lam: Tensor) -> Tensor:
    lam = lam.to(v.dtype)
    return lam[0] * v0 + lam[1] * v
