"""Round-to-nearest per-row symmetric intN (N = 2..8) with the seeds' clip modes.

Per row r of a matrix W (a tensor of ≥ 2 dims is viewed as (shape[0], rest)), with c = 2^(N−1) − 1:
    clip_r  from the mode:  absmax      max|W_r|                                   (#198/#295/#443/#601/#1473)
                            percentile  quantile(|W_r|, p)  (p = 99.99984% for int8)            (the baseline)
                            sdclip      k·std(W_r)                                   (#1394, SPEC_FRONTIER §4.2)
                            search_row  per row, the candidate percentile with the lowest row MSE      (#374/#601)
                            search_tensor  one candidate percentile for the whole matrix, lowest MSE   (#601/#1473)
    s_r = max(clip_r/c, floor) stored as fp16, floor = 1/c (the seeds' floor, explicit: `floor=True`) or the
          smallest fp16 normal (`floor=False`, as #295/#443/#601 do);
    q   = clamp(round(clamp(W_r, ±clip_r)/s_r), lo, c), lo = −c or −(c+1) (`neg_extra`), stored as int8.
The baseline's int8 exporter (`quantize_int8_percentile`) quantizes with the fp32 scale and dequantizes with the fp16
one; every other mode quantizes with the stored fp16 scale, as the seeds' intN paths do. A tensor with fewer than 2
dims uses one fp32 scale, clip/c (1.0 if zero), as the baseline does. Dequantisation is q·s_r.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

DEFAULT_CANDIDATES = (99.9, 99.95, 99.99, 99.999, 100.0)
FP16_TINY = float(torch.finfo(torch.float16).tiny)


@dataclass(frozen=True)
class IntSpec:
    """The grid of a per-row intN quantizer (what a policy rule asks for)."""

    bits: int = 8
    clip: str = "percentile"
    clip_value: float = 99.99984
    candidates: tuple[float, ...] = ()
    floor: bool = True
    neg_extra: bool = False

    @property
    def c(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def lo(self) -> int:
        return -(self.c + 1) if self.neg_extra else -self.c

    def candidate_list(self) -> tuple[float, ...]:
        return self.candidates or DEFAULT_CANDIDATES


def row_clip(w: Tensor, mode: str, value: float) -> Tensor:
    """Per-row clip magnitude of a 2-D fp32 matrix (percentile `value` in %, or k for sdclip)."""
    a = w.abs()
    if mode == "absmax" or (mode == "percentile" and value >= 100.0):
        return a.amax(dim=1)
    if mode == "percentile":
        return torch.quantile(a, value / 100.0, dim=1)
    if mode == "sdclip":  # the sample std (n − 1), as #1394/#1855/#2135 compute `W.std(dim=1)`
        return value * w.std(dim=1)
    raise ValueError(f"unknown clip mode {mode!r}")


def scales_for(clip: Tensor, spec: IntSpec) -> Tensor:
    """fp16 per-row scales from clip magnitudes."""
    floor = 1.0 / spec.c if spec.floor else FP16_TINY
    return (clip / spec.c).clamp_min(floor).to(torch.float16).clamp_min(FP16_TINY)


def quantize_with_scale(w: Tensor, s16: Tensor, clip: Tensor, spec: IntSpec) -> Tensor:
    s = s16.float()[:, None]
    wc = torch.maximum(torch.minimum(w, clip[:, None]), -clip[:, None])
    return torch.clamp(torch.round(wc / s), spec.lo, spec.c).to(torch.int8)


def _rows(w: Tensor) -> Tensor:
    return w.detach().float().reshape(w.shape[0], -1)


def quantize_rows(w: Tensor, spec: IntSpec) -> tuple[Tensor, Tensor]:
    """(q int8 of w's shape, scale): fp16 per-row scales for ≥ 2-D tensors, one fp32 scale otherwise."""
    if w.ndim < 2:
        return _quantize_flat(w, spec)
    w2 = _rows(w)
    if spec.clip in ("search_row", "search_tensor"):
        q, s = _search(w2, spec)
    else:
        clip = row_clip(w2, spec.clip, spec.clip_value)
        s = scales_for(clip, spec)
        q = quantize_with_scale(w2, s, clip, spec)
    return q.reshape(w.shape).contiguous(), s.contiguous()


def _search(w2: Tensor, spec: IntSpec) -> tuple[Tensor, Tensor]:
    best_q, best_s, best_err = None, None, None
    for pct in spec.candidate_list():
        clip = row_clip(w2, "percentile", pct)
        s = scales_for(clip, spec)
        q = quantize_with_scale(w2, s, clip, spec)
        err = (w2 - q.float() * s.float()[:, None]).square().mean(dim=1)
        if best_q is None:
            best_q, best_s, best_err = q, s, err
        elif spec.clip == "search_row":
            better = err < best_err
            best_q = torch.where(better[:, None], q, best_q)
            best_s = torch.where(better, s, best_s)
            best_err = torch.where(better, err, best_err)
        elif err.mean() < best_err.mean():
            best_q, best_s, best_err = q, s, err
    return best_q, best_s


def _quantize_flat(w: Tensor, spec: IntSpec) -> tuple[Tensor, Tensor]:
    w32 = w.detach().float()
    flat = w32.reshape(1, -1)
    mode = "percentile" if spec.clip.startswith("search") else spec.clip
    value = 100.0 if spec.clip.startswith("search") else spec.clip_value
    clip = float(row_clip(flat, mode, value)[0]) if w32.numel() else 0.0
    scale = torch.tensor(clip / spec.c if clip > 0 else 1.0, dtype=torch.float32)
    q = torch.clamp(torch.round(torch.clamp(w32, -clip, clip) / scale), spec.lo, spec.c).to(torch.int8)
    return q.contiguous(), scale


def quantize_int8_percentile(w: Tensor, percentile: float) -> tuple[Tensor, Tensor]:
    """The baseline's exporter, bit-exact: per-row fp16 scales for 2-D, one fp32 scale otherwise."""
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


def is_baseline_int8(spec: IntSpec) -> bool:
    return spec.bits == 8 and spec.clip == "percentile" and spec.floor and not spec.neg_extra


def quantize(w: Tensor, spec: IntSpec) -> tuple[Tensor, Tensor]:
    """The policy's entry point: the baseline path for its exact spec, `quantize_rows` for every other."""
    if is_baseline_int8(spec):
        return quantize_int8_percentile(w, spec.clip_value)
    return quantize_rows(w, spec)


def dequantize(q: Tensor, scale: Tensor, dtype: torch.dtype) -> Tensor:
    s = scale.float()
    if s.ndim > 0:
        s = s.view(q.shape[0], *([1] * (q.ndim - 1)))
    return (q.float() * s).to(dtype).contiguous()
