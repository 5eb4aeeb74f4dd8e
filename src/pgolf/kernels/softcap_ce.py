"""Softcapped cross-entropy that keeps no softcapped B×T×V copy: chunked over rows, recomputed in backward.

The eager form (`softcap_cross_entropy_eager`, the twin and GPT's default) computes s = c·tanh(z/c) in fp32 on the
whole (N, V) logit matrix z and calls F.cross_entropy; autograd then keeps tanh's output and log_softmax's output,
two more N×V fp32 tensors beside z, and the backward pass writes several more. `softcap_cross_entropy` does the
same maths in chunks of `chunk_rows` rows (auto: 4 MiB of fp32 per chunk on CPU, 256 MiB on CUDA): forward keeps only z (which the head's matmul produced anyway), the
targets and one log-sum-exp per row; backward recomputes t = tanh(z/c) chunk by chunk and writes
dz = g·(softmax(c·t) − onehot(y))·(1 − t²) straight into the gradient of z. Transients are chunk-sized, so the
peak of a training step drops by about two N×V fp32 tensors (measured: benchmarks/loss_memory.py).
GPT uses it for every per-token score (`token_losses`: evaluation and TTT), and for the training loss when the
`model.softcap_ce` block is present (the eager twin otherwise).

Idea: PR #1787's fused softcapped CE Triton kernel (SPEC_FRONTIER.md §6.3: stream the pre-softcap row once, a
running log-sum-exp, recompute in backward); this is its portable PyTorch form — no Triton, any device, and
traceable by torch.compile(fullgraph=True) (a torch.autograd.Function with a static chunk loop; tested).
Invariants: loss and gradient equal the eager twin's to fp32 rounding (tested), for mean, sum and per-token
reductions; targets are class indices in [0, V) (no ignore_index); the cap c > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class SoftcapCEConfig:
    """Chunked softcapped cross-entropy in the model's loss (`model.softcap_ce`; present = on)."""

    chunk_rows: int = 0  # rows (tokens) per chunk; 0 = auto_chunk_rows (by device and vocabulary)


CPU_CHUNK_ELEMENTS = 1 << 20  # 4 MiB of fp32 per chunk: cache-sized (1024 rows at V 1024 scored ~30% faster than
# one 65,536-row pass on a 1-thread CPU, same bpb to 1e-9)
CUDA_CHUNK_ELEMENTS = 1 << 26  # 256 MiB of fp32: few chunks (an 8×H100 rank's 98,304×8192 step → 12 chunks)


def auto_chunk_rows(vocab: int, device: torch.device) -> int:
    """Rows per chunk when the config says 0: a fixed number of fp32 elements per chunk, by device type."""
    elements = CUDA_CHUNK_ELEMENTS if device.type == "cuda" else CPU_CHUNK_ELEMENTS
    return max(1, elements // max(vocab, 1))


def softcap_cross_entropy_eager(z: Tensor, targets: Tensor, cap: float, reduction: str = "mean") -> Tensor:
    """The eager twin: c·tanh(z/c) in fp32 on all of z, then F.cross_entropy. z (N, V), targets (N,)."""
    s = cap * torch.tanh(z.float() / cap)
    return F.cross_entropy(s, targets, reduction=reduction)


def _chunk_nll(z: Tensor, y: Tensor, cap: float) -> tuple[Tensor, Tensor]:
    """(per-row NLL, per-row logsumexp) of the softcapped logits of one chunk, fp32."""
    s = z.float() / cap  # a fresh chunk-sized tensor: the rest runs in place on it
    s.tanh_().mul_(cap)
    lse = torch.logsumexp(s, dim=-1)
    return lse - s.gather(1, y[:, None]).squeeze(1), lse


class _SoftcapCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor, targets: Tensor, cap: float, chunk: int) -> Tensor:
        n = z.size(0)
        nll = torch.empty(n, dtype=torch.float32, device=z.device)
        lse = torch.empty(n, dtype=torch.float32, device=z.device)
        for a in range(0, n, chunk):
            nll[a : a + chunk], lse[a : a + chunk] = _chunk_nll(z[a : a + chunk], targets[a : a + chunk], cap)
        ctx.save_for_backward(z, targets, lse)
        ctx.cap, ctx.chunk = cap, chunk
        return nll

    @staticmethod
    def backward(ctx, g: Tensor):
        z, targets, lse = ctx.saved_tensors
        cap, chunk = ctx.cap, ctx.chunk
        dz = torch.empty_like(z)
        for a in range(0, z.size(0), chunk):
            t = torch.tanh(z[a : a + chunk].float() / cap)
            p = torch.exp(cap * t - lse[a : a + chunk, None])  # softmax of the softcapped row
            p.scatter_add_(1, targets[a : a + chunk, None], torch.full_like(p[:, :1], -1.0))
            dz[a : a + chunk] = (p * g[a : a + chunk, None].float() * (1.0 - t * t)).to(dz.dtype)
        return dz, None, None, None


def softcap_cross_entropy(z: Tensor, targets: Tensor, cap: float, reduction: str = "mean",
                          chunk_rows: int = 0) -> Tensor:
    """Cross-entropy of c·tanh(z/c) without storing it. z (N, V) in any float dtype, targets (N,) int64.
    reduction: "mean" | "sum" | "none" (per-row fp32 NLL); chunk_rows 0 = auto_chunk_rows."""
    if not cap > 0:
        raise ValueError(f"softcap must be > 0, got {cap}")
    if chunk_rows < 0:
        raise ValueError(f"chunk_rows must be ≥ 0 (0 = auto), got {chunk_rows}")
    chunk_rows = chunk_rows or auto_chunk_rows(z.size(-1), z.device)
    nll = _SoftcapCE.apply(z, targets, float(cap), int(chunk_rows))
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        return nll.mean()
    raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
