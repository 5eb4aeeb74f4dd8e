"""Small building blocks shared by the trunk: casted linear layers, RoPE, and the training precision policy.

`CastedLinear` keeps an fp32 master weight and casts it to the activation dtype at matmul time (bf16 under autocast
on CUDA), as every seed does. `apply_training_precision` reproduces the seeds' mix on CUDA: the model is cast to
bf16, then every CastedLinear and every low-dimensional or control parameter is promoted back to fp32 — which leaves
the token embedding (and other embedding tables) as bf16 master weights (SPEC_SEEDS.md §1.2, §1.4 "Precision").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def rms_norm(x: Tensor) -> Tensor:
    """Parameter-free RMSNorm over the last dim (torch default eps)."""
    return F.rms_norm(x, (x.size(-1),))


class CastedLinear(nn.Linear):
    """nn.Linear whose fp32 weight is cast to the input dtype at matmul time."""

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), bias)


def zero_init(module: nn.Linear) -> nn.Linear:
    """Mark a linear layer as zero-initialised (output projections)."""
    module._zero_init = True
    return module


def ntk_rope_base(base: float, rope_dims: int, seq_len: int, ref_seq_len: int = 1024) -> float:
    """The RoPE base the NTK-aware rule of #198/#1473 uses at runtime length `seq_len`.

    Their `Rotary` is built with a hard-coded reference length 1024; at L > 1024 it uses
    base' = base·(L/1024)^(r/(r−2)) over the r rotated dims (≈20,452 for r=64 and ≈22,082 for r=16 at L=2048), and
    the plain base at L ≤ 1024. pgolf uses one explicit base; recipes call this to reproduce the seeds' effective base
    at their (fixed) training and evaluation length (SPEC_SEEDS.md §1.3, §6.12).
    """
    if seq_len <= ref_seq_len:
        return base
    return base * (seq_len / ref_seq_len) ** (rope_dims / (rope_dims - 2))


class Rotary(nn.Module):
    """Rotate-half RoPE on the first `rope_dims` dims of each head (all of them by default: partial RoPE otherwise).

    inv_freq_j = base^(-2j/r) for j < r/2; pairs (x_i, x_{i+r/2}) become (x1·cos + x2·sin, −x1·sin + x2·cos); dims
    r..D pass through unchanged. Layout (B, T, H, D). cos/sin are computed from positions 0..T−1 inside forward (no
    Python-side cache: compile-friendly). Partial RoPE source: PRs #443 (code), #601, #1473 (16 of 64 dims).
    """

    def __init__(self, head_dim: int, base: float = 10000.0, rope_dims: int | None = None):
        super().__init__()
        r = head_dim if not rope_dims else rope_dims
        if r % 2 or not 0 < r <= head_dim:
            raise ValueError(f"rope_dims must be even and in (0, {head_dim}], got {r}")
        self.rope_dims = r
        self.base = base
        inv_freq = 1.0 / (base ** (torch.arange(0, r, 2, dtype=torch.float32) / r))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def cos_sin(self, seq_len: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """(1, T, 1, r/2) tables for the (B, T, H, D) layout."""
        t = torch.arange(seq_len, device=device, dtype=torch.float32)
        freqs = torch.outer(t, self.inv_freq.to(device=device, dtype=torch.float32))
        return freqs.cos()[None, :, None, :].to(dtype), freqs.sin()[None, :, None, :].to(dtype)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        """x: (B, T, H, D)."""
        r = self.rope_dims
        xr, xp = (x, None) if r == x.size(-1) else (x[..., :r], x[..., r:])
        half = r // 2
        x1, x2 = xr[..., :half], xr[..., half:]
        rot = torch.cat((x1 * cos + x2 * sin, x1 * (-sin) + x2 * cos), dim=-1)
        return rot if xp is None else torch.cat((rot, xp), dim=-1)


def apply_training_precision(model: nn.Module, control_patterns: tuple[str, ...]) -> nn.Module:
    """The seeds' CUDA precision: bf16 model, fp32 CastedLinear weights and fp32 small/control parameters."""
    model.bfloat16()
    for m in model.modules():
        if isinstance(m, CastedLinear):
            m.float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if (p.ndim < 2 or any(pat in name for pat in control_patterns)) and p.dtype != torch.float32:
                p.data = p.data.float()
    return model
