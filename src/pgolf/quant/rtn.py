"""Round-to-nearest per-row int8 with a percentile clip — the naive baseline's exporter (SPEC_SEEDS.md §0, §1.7).

Per row r of a matrix W: c_r = quantile(|W_r|, p) (p = 99.99984%), s_r = max(c_r/127, 1/127) stored as fp16,
q = clamp(round(clip(W_r, ±c_r)/s_r), −127, 127) as int8. Dequantisation is q·fp16(s_r). Non-matrix tensors use one
scale for the whole tensor (kept fp32). The quantiser uses the fp32 scale, dequantisation the stored one, exactly as the
baseline does.
"""

from __future__ import annotations

import torch
from torch import Tensor


def quantize_int8_percentile(w: Tensor, percentile: float) -> tuple[Tensor, Tensor]:
    """(q int8 of w's shape, scale): per-row fp16 scales for 2-D, one fp32 scale otherwise."""
    w32 = w.detach().float()
    qf = percentile / 100.0
    if w32.ndim == 2:
        clip = torch.quantile(w32.abs(), qf, dim=1) if w32.numel() else torch.zeros(w32.shape[0])
        scale = (clip / 127.0).clamp_min(1.0 / 127.0)
        clipped = torch.maximum(torch.minimum(w32, clip[:, None]), -clip[:, None])
        q = torch.clamp(torch.round(clipped / scale[:, None]), -127, 127).to(torch.int8)
        return q.contiguous(), scale.to(torch.float16).contiguous()
    clip = float(torch.quantile(w32.abs().flatten(), qf)) if w32.numel() else 0.0
    scale = torch.tensor(clip / 127.0 if clip > 0 else 1.0, dtype=torch.float32)
    q = torch.clamp(torch.round(torch.clamp(w32, -clip, clip) / scale), -127, 127).to(torch.int8)
    return q.contiguous(), scale


def dequantize(q: Tensor, scale: Tensor, dtype: torch.dtype) -> Tensor:
    s = scale.float()
    if s.ndim > 0:
        s = s.view(q.shape[0], *([1] * (q.ndim - 1)))
    return (q.float() * s).to(dtype).contiguous()
