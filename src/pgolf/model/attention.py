"""Causal self-attention: GQA, QK RMSNorm, (partial) RoPE, per-head q_gain, zero-init output projection, and the
attention-side hooks of the seeds (value embeddings, value residual, XSA, gated attention).

q = W_q x, k = W_k x, v = W_v x (+ value embedding) in (B, T, H, D) / (B, T, Hkv, D); v ← value-residual mix;
q, k get a parameter-free RMSNorm over D, then RoPE, then q ← q·q_gain[h] (init 1.5); causal attention with the
default 1/√D scale; then XSA and the output gate if on; then W_o (zero init).
Source: the naive baseline and the seeds' `CausalSelfAttention` (SPEC_SEEDS.md §1.3).

Kernel: FlashAttention 3 (`flash_attn_interface.flash_attn_func`, (B, T, H, D), native GQA; as #198 and #1473 call
it) when `model.attention_kernel` is "fa3", or "auto" with FA3 importable and CUDA present; PyTorch SDPA otherwise.
`describe_attention_kernel` gives the line the run log prints. FA3 runs on CUDA tensors in bf16/fp16 (fp32 inputs are
cast to bf16 for it; training and eval run under bf16 autocast anyway); CPU tensors always take SDPA.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.errors import PgolfError
from pgolf.model.config import layer_sets
from pgolf.model.features.attn_gate import (
    apply_attn_gate,
    apply_sparse_attn_gate,
    make_attn_gate,
    make_sparse_attn_gate,
)
from pgolf.model.features.value_residual import mix_value_residual
from pgolf.model.features.varlen import varlen_attention
from pgolf.model.features.xsa import exclusive_self_attention
from pgolf.model.layers import CastedLinear, Rotary, rms_norm, zero_init


@functools.lru_cache(maxsize=1)
def _fa3_func():
    """flash_attn_interface.flash_attn_func, or None when FA3 is not importable (probed once)."""
    try:
        from flash_attn_interface import flash_attn_func  # optional dependency (FA3 on Hopper), probed once
    except (ImportError, OSError):
        return None
    return flash_attn_func


def resolve_attention_kernel(choice: str) -> str:
    """'auto' | 'fa3' | 'sdpa' → 'fa3' | 'sdpa'; asking for FA3 where it cannot run is an error, not a fallback."""
    fa3_ok = _fa3_func() is not None and torch.cuda.is_available()
    if choice == "sdpa":
        return "sdpa"
    if choice == "fa3" and not fa3_ok:
        raise PgolfError("model.attention_kernel: 'fa3' needs flash_attn_interface (FlashAttention 3) and CUDA; "
                         "use 'auto' or 'sdpa' here")
    return "fa3" if fa3_ok else "sdpa"


def describe_attention_kernel(choice: str, on_cuda: bool = True) -> str:
    """One phrase for the run log: which kernel runs and why."""
    if not on_cuda:
        return "SDPA (CPU)"
    kernel = resolve_attention_kernel(choice)
    if kernel == "fa3":
        return "FA3 (flash_attn_interface)"
    if choice == "sdpa":
        return "SDPA (model.attention_kernel=sdpa)"
    why = "flash_attn_interface not importable" if _fa3_func() is None else "no CUDA"
    return f"SDPA ({why})"


def causal_attention(q: Tensor, k: Tensor, v: Tensor, kernel: str = "sdpa") -> Tensor:
    """q (B, T, H, D), k/v (B, T, Hkv, D) → (B, T, H, D), causal, scale 1/√D, native GQA."""
    return _attend(q, k, v, _fa3_func() if kernel == "fa3" else None)


def _attend(q: Tensor, k: Tensor, v: Tensor, fa3=None) -> Tensor:
    if fa3 is not None and q.is_cuda:
        dtype = q.dtype if q.dtype in (torch.bfloat16, torch.float16) else torch.bfloat16
        out = fa3(q.to(dtype), k.to(dtype), v.to(dtype), causal=True)
        out = out[0] if isinstance(out, tuple) else out  # some FA3 builds return (out, lse)
        return out.to(q.dtype)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True,
                                       enable_gqa=k.size(2) != q.size(2))
    return y.transpose(1, 2)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg, layer: int, kernel: str = "sdpa"):
        super().__init__()
        dim = cfg.model_dim
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.head_dim = dim // cfg.num_heads
        kv_dim = self.num_kv_heads * self.head_dim
        self.kernel = kernel
        self.fa3 = _fa3_func() if kernel == "fa3" else None  # resolved once, outside forward (compile-friendly)
        self.varlen_fa3 = None  # flash_attn_varlen_func when GPT resolves model.varlen to FA3 (features/varlen.py)
        self.c_q = CastedLinear(dim, dim, bias=False)
        self.c_k = CastedLinear(dim, kv_dim, bias=False)
        self.c_v = CastedLinear(dim, kv_dim, bias=False)
        self.proj = zero_init(CastedLinear(dim, dim, bias=False))
        self.q_gain = nn.Parameter(torch.full((cfg.num_heads,), cfg.qk_gain_init, dtype=torch.float32))
        self.rotary = Rotary(self.head_dim, base=cfg.rope_base, rope_dims=cfg.rope_dims)
        self.xsa = layer in layer_sets(cfg).xsa
        self.vr_lambda = None
        if cfg.value_residual is not None:
            self.vr_lambda = nn.Parameter(torch.tensor(cfg.value_residual.lambda_init, dtype=torch.float32))
        self.attn_gate, self.attn_gate_w = None, None  # dense (#601) | sparse (#1787) output gate
        if cfg.attn_gate is not None and cfg.attn_gate.kind == "sparse":
            self.attn_gate_w = make_sparse_attn_gate(cfg.attn_gate, cfg.num_heads)
            self.attn_gate_scale = cfg.attn_gate.scale
        elif cfg.attn_gate is not None:
            self.attn_gate = make_attn_gate(cfg.attn_gate, dim, cfg.num_heads)

    def qkv(self, x: Tensor, ve: Tensor | None = None, v0: Tensor | None = None,
            start: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Inputs of the attention for positions [start, start+T): q and k (RMS-normed, rotated, q gained), v (after
        value-residual mixing), and the raw V (B, T, Hkv, D) that layer 0 hands on as v0."""
        B, T, C = x.shape
        q = self.c_q(x).view(B, T, self.num_heads, self.head_dim)
        k = self.c_k(x).view(B, T, self.num_kv_heads, self.head_dim)
        v = self.c_v(x)
        if ve is not None:
            v = v + ve
        v = raw_v = v.view(B, T, self.num_kv_heads, self.head_dim)
        if self.vr_lambda is not None and v0 is not None:
            v = mix_value_residual(v, v0, self.vr_lambda)
        q, k = rms_norm(q), rms_norm(k)
        cos, sin = self.rotary.cos_sin(start + T, x.device, q.dtype)
        if start:
            cos, sin = cos[:, start:], sin[:, start:]
        q, k = self.rotary(q, cos, sin), self.rotary(k, cos, sin)
        q = q * self.q_gain.to(q.dtype)[None, None, :, None]
        return q, k, v, raw_v

    def output(self, y: Tensor, v: Tensor, x: Tensor) -> Tensor:
        """Attention result y (B, T, H, D) → block output: XSA, attention gate, output projection."""
        if self.xsa:
            y = exclusive_self_attention(y, v)
        if self.attn_gate is not None:
            y = apply_attn_gate(y, x, self.attn_gate)
        if self.attn_gate_w is not None:
            y = apply_sparse_attn_gate(y, x, self.attn_gate_w, self.attn_gate_scale)
        return self.proj(y.reshape(x.shape))

    def forward(self, x: Tensor, ve: Tensor | None = None, v0: Tensor | None = None,
                cu_seqlens: Tensor | None = None, max_seqlen: int = 0) -> tuple[Tensor, Tensor]:
        """→ (output (B, T, C), raw V (B, T, Hkv, D) before value-residual mixing: layer 0's becomes v0).
        With cu_seqlens (x is then one flat row), attention stays inside each segment (features/varlen.py)."""
        q, k, v, raw_v = self.qkv(x, ve, v0)
        if cu_seqlens is not None:
            y = varlen_attention(q, k, v, cu_seqlens, max_seqlen, self.varlen_fa3)
        else:
            y = _attend(q, k, v, self.fa3)
        return self.output(y, v, x), raw_v
