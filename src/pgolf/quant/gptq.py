"""GPTQ: quantize a weight matrix column by column, spreading each column's error onto the columns not yet
quantized so that the layer output ‖(W − Ŵ)X‖ (not the weight error) is minimised.

Source: Frantar et al., "GPTQ" (2022); #1473's `quantize_int6_gptq` (SPEC_SEEDS §1.7). With H = XᵀX (inputs X as
rows, from pgolf.quant.calibrate):
  1. dead inputs (H_jj = 0): H_jj = 1 and W[:, j] = 0;
  2. damping ONCE: H += damp·mean(diag H)·I (#1473 damps twice, §6.3). Only if the Cholesky fails is the damping
     raised ×10, ×100, ×1000 (then it is an error, never a silent RTN);
  3. act-order: columns permuted by descending diag(H);
  4. U = upper Cholesky factor of H⁻¹; for each block of `block_size` columns and column j in it:
     q_j = clamp(round(w_j/s), lo, c); e_j = (w_j − q_j·s)/U_jj; W[:, j:block end] −= e_j ⊗ U_j,j:; after the block
     the lazy update W[:, rest] −= E·U[block, rest];
  5. clip search inside: the per-row scales s come from the rule's clip mode; search modes run GPTQ with every
     candidate percentile (one stacked pass: rows are independent under a shared U) and keep the lowest output
     error ΔW H ΔWᵀ — per row for search_row, summed over the matrix for search_tensor (#1473 keeps the lowest
     weight MSE);
  6. columns un-permuted. Scales are per row and so invariant under the column permutation.
Mixed precision (`hi`, AWQ-lite #1908, pgolf.quant.awq): the masked columns are quantized on a finer grid — the same
per-row clip, scale s_hi = clip/c_hi, levels of the `hi` spec — inside the same pass, so their (smaller) error is
spread like any other column's; the clip search scores candidates with the mixed reconstruction.
Identity (tested): with a diagonal H every update is zero and GPTQ equals RTN at the same scales. #601's "GPTQ"
(SPEC_SEEDS §6.1) was a no-op; the tests require a strictly lower output error than RTN on correlated inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pgolf.errors import PgolfError
from pgolf.quant.config import GPTQConfig
from pgolf.quant.rtn import IntSpec, row_clip, scales_for


def inverse_cholesky_upper(H: Tensor, damp: float) -> Tensor:
    """Upper Cholesky factor of (H + damp·mean(diag)·I)⁻¹, raising the damping ×10 up to 3 times if needed."""
    n = H.shape[0]
    base = damp * float(H.diagonal().mean().clamp_min(1e-12))
    eye = torch.eye(n, dtype=H.dtype, device=H.device)
    for mult in (1.0, 10.0, 100.0, 1000.0):
        try:
            L = torch.linalg.cholesky(H + mult * base * eye)
            return torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True)
        except RuntimeError:
            continue
    raise PgolfError("gptq: the Hessian is not positive definite even with 1000× damping (calibration too small?)")


def gptq_pass(W: Tensor, U: Tensor, s: Tensor, spec: IntSpec, block_size: int,
              hi: tuple[Tensor, Tensor, IntSpec] | None = None) -> Tensor:
    """Blocked error-feedback quantization of W (rows × cols, already permuted) with fixed per-row scales s;
    `hi` = (column mask, per-row scales, spec) of the columns quantized on a finer grid."""
    W = W.clone()
    rows, cols = W.shape
    Q = torch.zeros(rows, cols, dtype=torch.int8, device=W.device)
    grids = [(s.float(), spec.lo, spec.c)]
    mask = [False] * cols
    if hi is not None:
        grids.append((hi[1].float(), hi[2].lo, hi[2].c))
        mask = hi[0].tolist()
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        W1 = W[:, i1:i2].clone()
        E1 = torch.zeros_like(W1)
        U1 = U[i1:i2, i1:i2]
        for j in range(i2 - i1):
            sf, lo, c = grids[mask[i1 + j]]
            w = W1[:, j]
            q = torch.clamp(torch.round(w / sf), lo, c)
            Q[:, i1 + j] = q.to(torch.int8)
            e = (w - q * sf) / U1[j, j]
            W1[:, j:] -= e[:, None] * U1[j, j:][None, :]
            E1[:, j] = e
        if i2 < cols:
            W[:, i2:] -= E1 @ U[i1:i2, i2:]
    return Q


def candidate_clips(W: Tensor, spec: IntSpec) -> list[Tensor]:
    if spec.clip in ("search_row", "search_tensor"):
        return [row_clip(W, "percentile", p) for p in spec.candidate_list()]
    return [row_clip(W, spec.clip, spec.clip_value)]


def candidate_scales(W: Tensor, spec: IntSpec) -> list[Tensor]:
    return [scales_for(c, spec) for c in candidate_clips(W, spec)]


def gptq_quantize(w: Tensor, H: Tensor, spec: IntSpec, cfg: GPTQConfig | None = None,
                  device: torch.device | str | None = None, hi: tuple[Tensor, IntSpec] | None = None):
    """(q int8 like w, fp16 per-row scales) for a 2-D weight w (out × in) and its input Hessian H (in × in).
    With `hi` = (bool column mask, finer spec): (q, s, s_hi), the masked columns on s_hi's grid.
    Runs on `device` (default: w's) and returns tensors on w's device."""
    cfg = cfg or GPTQConfig()
    home = w.device
    W = w.detach().float().to(device or home).clone()
    H = H.detach().float().to(W.device).clone()
    if W.ndim != 2 or H.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"gptq: weight {tuple(W.shape)} and Hessian {tuple(H.shape)} do not fit")
    dead = H.diagonal() == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    perm = (torch.argsort(H.diagonal(), descending=True, stable=True) if cfg.act_order
            else torch.arange(W.shape[1], device=W.device))
    inv = torch.argsort(perm)
    Wp, Hp = W[:, perm], H[perm][:, perm]
    U = inverse_cholesky_upper(Hp, cfg.damp)
    # rows evolve independently under the same U, so all candidates run as one stacked pass
    clips = candidate_clips(W, spec)
    scales = torch.cat([scales_for(c, spec) for c in clips])
    k, rows = len(clips), W.shape[0]
    hp = None
    if hi is not None:
        mask_p = hi[0].to(W.device)[perm]
        hp = (mask_p, torch.cat([scales_for(c, hi[1]) for c in clips]), hi[1])
    Qs = gptq_pass(Wp.repeat(k, 1), U, scales, spec, cfg.block_size, hp)
    S = scales.float()[:, None].expand(-1, W.shape[1])
    if hp is not None:
        S = torch.where(mask_p[None, :], hp[1].float()[:, None], S)
    D = Wp.repeat(k, 1) - Qs.float() * S
    err = ((D @ Hp) * D).sum(1).view(k, rows)  # per-row output error of every candidate
    if spec.clip == "search_row":
        pick = err.argmin(0)  # one candidate per row (rows are independent)
    else:
        pick = torch.full((rows,), int(err.sum(1).argmin()), device=W.device)  # one per matrix
    idx = pick * rows + torch.arange(rows, device=W.device)
    Q, s = Qs[idx][:, inv].contiguous().to(home), scales[idx].contiguous().to(home)
    return (Q, s) if hp is None else (Q, s, hp[1][idx].contiguous().to(home))
