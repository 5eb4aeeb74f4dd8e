"""VarLen (document-isolated) attention: no token attends across a document boundary of the packed stream.

Idea: training packs documents back to back; with plain causal attention a token also attends to the end of the
previous, unrelated document. Cutting attention at every BOS (and at the loader's max_len splits) removes that noise
and, with a varlen kernel, the attention FLOPs between documents (average validation document ≈ 200 tokens).
Source: openai/parameter-golf #1354 → #1530 (`flash_attn_varlen_func` over the DocumentPackingLoader's cu_seqlens),
as run by #1855 (SPEC_FRONTIER.md §1.3, §2.6): claimed ≈ 2 % faster and ≈ 0.001 nats.

How (the record's layout): the micro-batch x (B, T) from `data.loader=packed` is flattened to one row (1, B·T) —
`cu_seqlens` (int32, boundaries of x.flatten(), padded to a multiple of 64 by repeating B·T so compiled shapes stay
few) indexes that row — and every attention layer attends causally inside its segment only. RoPE positions are those
of the flat row, as in #1855 (RoPE scores depend only on position differences, so this equals per-document
positions up to rounding). `max_seqlen` is passed as the loader's cap (train.seq_len), a fixed upper bound, so a
compiled graph never specialises on a batch's longest document.

Kernels (`resolve_varlen_kernel`, logged once by the trainer):
  * "fa3"   `flash_attn_interface.flash_attn_varlen_func` (FlashAttention 3) on CUDA when importable;
  * "masked" the exact reference: SDPA with the block-diagonal causal mask built from cu_seqlens. When the flat
    length N exceeds 2·max_seqlen it runs banded: N is cut into blocks of W = max_seqlen and block i's queries see
    only the keys of blocks i−1 and i, which hold every key of their segments as long as no segment is longer than
    max_seqlen (FA3's contract too; the packed loader and the TTT global phase cut segments at it). O(N·2W) memory
    and work instead of O(N²): 2·max_seqlen/N of the full mask (1/16 for 32 rows of T).
Asking for "fa3" where it cannot run is an error; "auto" says which path it took.

Invariants: a segment's outputs equal plain causal attention over that segment alone (tests: per-document naive
attention); perturbing one document never changes another's outputs (causality across documents); with one segment
per row it is plain causal attention. Adds no parameters and no artifact bytes; evaluation does not use it (the
record's final score comes from per-document TTT windows; `eval.doc_aware` keeps windows inside documents).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pgolf.errors import PgolfError


@dataclass(frozen=True)
class VarlenConfig:
    """Document-isolated attention in training from the packed loader's cu_seqlens (needs data.loader=packed)."""

    kernel: Literal["auto", "fa3", "masked"] = "auto"  # auto: FA3 varlen on CUDA when importable, else masked


@functools.lru_cache(maxsize=1)
def _fa3_varlen():
    """flash_attn_interface.flash_attn_varlen_func, or None when FA3 is not importable (probed once)."""
    try:
        from flash_attn_interface import flash_attn_varlen_func  # optional dependency (FA3), probed once
    except (ImportError, OSError):
        return None
    return flash_attn_varlen_func


def resolve_varlen_kernel(choice: str, on_cuda: bool) -> tuple[str, str]:
    """→ ('fa3' | 'masked', one phrase for the run log saying why)."""
    ok = _fa3_varlen() is not None and on_cuda
    if choice == "fa3" and not ok:
        raise PgolfError("model.varlen.kernel: 'fa3' needs flash_attn_interface.flash_attn_varlen_func and CUDA; "
                         "use 'auto' or 'masked'")
    if choice == "masked" or not ok:
        why = ("model.varlen.kernel=masked" if choice == "masked" else
               "CPU" if not on_cuda else "flash_attn_interface not importable")
        return "masked", f"varlen attention: exact masked SDPA path ({why})"
    return "fa3", "varlen attention: FA3 flash_attn_varlen_func"


def segment_ids(cu_seqlens: Tensor, n: int) -> Tensor:
    """(n,) index of the segment each flat position belongs to (padding entries of cu_seqlens are never hit)."""
    pos = torch.arange(n, device=cu_seqlens.device, dtype=cu_seqlens.dtype)
    return torch.searchsorted(cu_seqlens, pos, right=True) - 1


def varlen_mask(cu_seqlens: Tensor, n: int) -> Tensor:
    """(n, n) bool: query i may attend key j iff j ≤ i and both lie in the same segment."""
    seg = segment_ids(cu_seqlens, n)
    causal = torch.ones(n, n, dtype=torch.bool, device=cu_seqlens.device).tril()
    return causal & (seg[:, None] == seg[None, :])


def varlen_kernel_fn(kernel: str):
    """The function a 'fa3' kernel calls (resolved once, outside forward, so compiled graphs see a constant)."""
    return _fa3_varlen() if kernel == "fa3" else None


def varlen_attention(q: Tensor, k: Tensor, v: Tensor, cu_seqlens: Tensor, max_seqlen: int, fa3=None) -> Tensor:
    """q (1, N, H, D), k/v (1, N, Hkv, D) → (1, N, H, D): causal attention inside each cu_seqlens segment;
    `fa3` = flash_attn_varlen_func (resolve_varlen_kernel picks it only on CUDA) or None for the exact masked path."""
    if q.size(0) != 1:
        raise ValueError("varlen attention expects the flattened (1, N, …) row")
    if fa3 is not None:
        dtype = q.dtype if q.dtype in (torch.bfloat16, torch.float16) else torch.bfloat16
        out = fa3(q[0].to(dtype), k[0].to(dtype), v[0].to(dtype), cu_seqlens_q=cu_seqlens,
                            cu_seqlens_k=cu_seqlens, max_seqlen_q=max_seqlen, max_seqlen_k=max_seqlen, causal=True)
        out = out[0] if isinstance(out, tuple) else out
        return out[None].to(q.dtype)
    if 0 < max_seqlen and 2 * max_seqlen < q.size(1):
        return banded_masked_attention(q, k, v, cu_seqlens, max_seqlen)
    mask = varlen_mask(cu_seqlens, q.size(1))
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask,
                                       enable_gqa=k.size(2) != q.size(2))
    return y.transpose(1, 2)


def banded_masked_attention(q: Tensor, k: Tensor, v: Tensor, cu_seqlens: Tensor, W: int) -> Tensor:
    """The masked path in blocks of W (module docstring): exact when no segment is longer than W. Padding past N
    is its own segment (−1), so no row of the mask is empty; block 0's missing predecessor is segment −2."""
    _, N, H, D = q.shape
    Hkv, nb = k.size(2), -(-N // W)
    pad = nb * W - N
    seg = segment_ids(cu_seqlens, N)
    if pad:
        q, k, v = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (q, k, v))
        seg = torch.cat([seg, seg.new_full((pad,), -1)])
    sq = seg.view(nb, W)

    def pairs(t: Tensor, fill: int) -> Tensor:  # (nb, 2W, …): block i−1 then block i
        return torch.cat([torch.cat([torch.full_like(t[:1], fill), t[:-1]]), t], 1)

    kk, vv = pairs(k[0].view(nb, W, Hkv, D), 0), pairs(v[0].view(nb, W, Hkv, D), 0)
    sk = pairs(sq, -2)
    causal = torch.ones(W, 2 * W, dtype=torch.bool, device=q.device).tril(W)  # query a ↔ key position W + a
    mask = (sq[:, :, None] == sk[:, None, :]) & causal
    y = F.scaled_dot_product_attention(q[0].view(nb, W, H, D).transpose(1, 2), kk.transpose(1, 2),
                                       vv.transpose(1, 2), attn_mask=mask[:, None], enable_gqa=Hkv != H)
    return y.transpose(1, 2).reshape(1, nb * W, H, D)[:, :N]
