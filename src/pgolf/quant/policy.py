"""Which tensor gets which treatment in the export, and the state-dict ⇄ quantized-tensors transform.

The baseline's table (SPEC_SEEDS.md §0, §1.7): non-float tensors pass through exactly; float tensors with at most
`keep_float_max_numel` elements pass through — fp32 if their name matches a control pattern, else fp16 (original
dtype restored on load); larger tensors are quantized per row to int8 with a percentile clip.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from pgolf.config import QuantConfig
from pgolf.quant.rtn import dequantize, quantize_int8_percentile

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def classify(name: str, t: Tensor, cfg: QuantConfig) -> str:
    """'exact' | 'fp32' | 'fp16' | 'int8'."""
    if not t.is_floating_point():
        return "exact"
    if t.numel() <= cfg.keep_float_max_numel:
        return "fp32" if any(p in name for p in cfg.control_patterns) else "fp16"
    return "int8"


def _dtype_name(dt: torch.dtype) -> str:
    return str(dt).removeprefix("torch.")


def quantize_state_dict(sd: dict[str, Tensor], cfg: QuantConfig) -> tuple[dict[str, Tensor], dict[str, dict]]:
    """→ (tensors to store, per-name metadata). Stored tensors are CPU and contiguous."""
    tensors: dict[str, Tensor] = {}
    meta: dict[str, dict] = {}
    for name, t in sd.items():
        t = t.detach().cpu().contiguous()
        kind = classify(name, t, cfg)
        info = {"kind": kind, "dtype": _dtype_name(t.dtype), "shape": list(t.shape)}
        if kind == "exact":
            tensors[name] = t
        elif kind in ("fp32", "fp16"):
            tensors[name] = t.to(torch.float32 if kind == "fp32" else torch.float16)
        else:
            q, s = quantize_int8_percentile(t, cfg.clip_percentile)
            tensors[name] = q
            tensors[name + ".scale"] = s
        meta[name] = info
    return tensors, meta


def dequantize_state_dict(tensors: dict[str, Tensor], meta: dict[str, dict]) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for name, info in meta.items():
        dtype = _DTYPES.get(info["dtype"])
        kind = info["kind"]
        if kind == "exact":
            out[name] = tensors[name]
        elif kind in ("fp32", "fp16"):
            out[name] = tensors[name].to(dtype)
        elif kind == "int8":
            out[name] = dequantize(tensors[name], tensors[name + ".scale"], dtype)
        else:
            raise ValueError(f"unknown tensor kind {kind!r} for {name}")
        if list(out[name].shape) != info["shape"]:
            raise ValueError(f"{name}: shape {list(out[name].shape)} does not match recorded {info['shape']}")
    return out


def numpy_of(t: Tensor) -> np.ndarray:
    """Tensor → numpy (bf16 viewed as uint16 bits)."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.uint16).numpy() if hasattr(torch, "uint16") else t.view(torch.int16).numpy()
    return t.numpy()
