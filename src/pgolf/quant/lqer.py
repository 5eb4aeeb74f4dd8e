"""LQER: a low-rank correction of the quantization error, stored as tiny quantized factors.

Idea (SPEC_FRONTIER §4.4; LQER, Zhang et al. 2024; openai/parameter-golf #1797, asymmetric factors of #1855):
after the policy quantized every matrix (RTN or GPTQ) to Ŵ,
  1. E = W − Ŵ for every int-quantized 2-D tensor (W = the tensor the quantizer was given, after magnitude pruning);
     the `top_k` tensors by ‖E‖_F are corrected (ties broken by name);
  2. rank-r SVD E ≈ U_r S_r V_rᵀ: A = U_r S_r (out × r), B = V_rᵀ (r × in);
  3. A is stored with `a_bits` (2): levels −2^(a−1) .. 2^(a−1)−1 = −2..1, ONE fp16 scale max|A|/(2^(a−1) − ½) = /1.5;
     B with `b_bits` (4): levels −8..7, one fp16 scale max|B_g|/7.5 per group of `b_group` consecutive inputs of a
     row (#1855 groups the flattened B, the same groups when in % b_group == 0; here a row's last group may be
     shorter). q = clamp(round(x/s), lo, hi) with the fp16 scale (s floored at the smallest fp16 normal, so an
     all-zero factor stays zero instead of 0/0). As in #1855, |x/s| ≤ 1.5 for A, so its codes are in effect −1..1
     with −2 only for entries at about −max|A| (+1.5 rounds to 2 and is clamped to 1);
  4. load: W = Ŵ + Â·B̂ (Ŵ with any AWQ-protected columns: pgolf.quant.awq.int_base). Â·B̂ is summed as r rank-1
     outer products in a fixed order (elementwise fp32 ops only, no BLAS), so the exporter's reconstruction and the
     loader's are the same bits on any device.
Artifact: the tensor's metadata entry keeps kind "int" and gains `"lqer": {rank, a_bits, b_bits, group}`; the
factors are ordinary int8 / fp16 arrays NAME.lqer_a, NAME.lqer_a_scale, NAME.lqer_b, NAME.lqer_b_scale (bit-packed
at a_bits / b_bits by `packed` storage). Artifacts without the key load as before; at load, factors that do not fit
their matrix, or factor arrays no corrected entry claims, are errors (never silently dropped). `artifact.size` counts the
factor arrays in their own group "lqer".
Bytes: per corrected out × in matrix, ⌈r·out·a/8⌉ + ⌈r·in·b/8⌉ + 2 + 2·r·⌈in/g⌉ stored (≈ 3 KB for 2048 × 512 at
rank 4, g 64) before the codec. Selective ±1 pruning runs after this and may move a few Ŵ entries; the correction
is left as computed (it still targets the pre-pruning error).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from pgolf.errors import PgolfError
from pgolf.quant.awq import int_base  # Ŵ with AWQ-protected columns (equals `base` without them)

FP16_TINY = float(torch.finfo(torch.float16).tiny)
SUFFIXES = (".lqer_a", ".lqer_a_scale", ".lqer_b", ".lqer_b_scale")


def grid(bits: int) -> tuple[int, int, float]:
    """(lo, hi, divisor) of the asymmetric signed grid: −2^(b−1) .. 2^(b−1)−1, scale = max|x|/(2^(b−1) − ½)."""
    half = 1 << (bits - 1)
    return -half, half - 1, half - 0.5


def _scale(amax: Tensor, bits: int) -> Tensor:
    return (amax / grid(bits)[2]).to(torch.float16).clamp_min(FP16_TINY)


def quantize_a(A: Tensor, bits: int) -> tuple[Tensor, Tensor]:
    """(q int8 like A, one fp16 scale as a 0-dim tensor)."""
    lo, hi, _ = grid(bits)
    s = _scale(A.abs().amax(), bits)
    return torch.clamp(torch.round(A / s.float()), lo, hi).to(torch.int8), s


def quantize_b(B: Tensor, bits: int, group: int) -> tuple[Tensor, Tensor]:
    """(q int8 like B, fp16 scales (rows, ⌈in/group⌉)): one scale per `group` consecutive entries of a row."""
    lo, hi, _ = grid(bits)
    rows, cols = B.shape
    ng = -(-cols // group)
    padded = torch.zeros(rows, ng * group, dtype=torch.float32, device=B.device)
    padded[:, :cols] = B
    s = _scale(padded.view(rows, ng, group).abs().amax(dim=2), bits)
    q = torch.clamp(torch.round(B / expand(s, group, cols)), lo, hi).to(torch.int8)
    return q, s


def expand(s: Tensor, group: int, cols: int) -> Tensor:
    """fp32 per-entry scales of a grouped (rows, ngroups) scale tensor."""
    return s.float().repeat_interleave(group, dim=1)[:, :cols]


def factorize(E: Tensor, rank: int) -> tuple[Tensor, Tensor]:
    """A = U_r S_r (out × r), B = V_rᵀ (r × in) from the SVD of E (r ≤ min(out, in))."""
    U, S, Vh = torch.linalg.svd(E.float(), full_matrices=False)
    r = min(rank, S.numel())
    return (U[:, :r] * S[:r]).contiguous(), Vh[:r].contiguous()


def correction(qa: Tensor, sa: Tensor, qb: Tensor, sb: Tensor, group: int) -> Tensor:
    """Â·B̂ in fp32 as a fixed-order sum of rank-1 outer products (bit-identical on every device)."""
    a = qa.float() * sa.float()
    b = qb.float() * expand(sb, group, qb.shape[1])
    out = torch.zeros(qa.shape[0], qb.shape[1], dtype=torch.float32, device=qa.device)
    for k in range(qa.shape[1]):
        out = out + a[:, k : k + 1] * b[k : k + 1, :]
    return out


def dequantize_corrected(tensors: Mapping[str, Tensor], name: str, info: Mapping, dtype: torch.dtype) -> Tensor:
    """Ŵ + Â·B̂ of one corrected entry, cast to `dtype`; ValueError when the factor arrays do not fit."""
    q = tensors[name]
    qa, sa, qb, sb = (tensors[name + x] for x in SUFFIXES)
    g = int(info["lqer"]["group"])
    r = qa.shape[1] if qa.ndim == 2 else -1
    if (q.ndim != 2 or qa.shape != (q.shape[0], r) or qb.shape != (r, q.shape[1]) or sa.ndim != 0
            or sb.shape != (r, -(-q.shape[1] // g))):
        raise ValueError(f"{name}: LQER factors {list(qa.shape)} / {list(qb.shape)} do not fit {list(q.shape)}")
    return (int_base(tensors, name, info) + correction(qa, sa, qb, sb, g)).to(dtype).contiguous()


def check_factors(tensors: Mapping[str, Tensor], meta: Mapping[str, dict]) -> None:
    """ValueError for a factor array whose tensor's entry has no "lqer" key (it would be silently ignored)."""
    for a in tensors:
        for x in SUFFIXES:
            if a.endswith(x) and not (meta.get(a[: -len(x)]) or {}).get("lqer"):
                raise ValueError(f"{a}: an LQER factor array without a corrected tensor entry")


def factor_bits(meta: Mapping[str, dict]) -> dict[str, int]:
    """Array name → bit width of the int8 factor arrays (for bit-packed storage)."""
    out = {}
    for n, i in meta.items():
        x = i.get("lqer") if isinstance(i, dict) else None
        if x:
            out[n + ".lqer_a"], out[n + ".lqer_b"] = int(x["a_bits"]), int(x["b_bits"])
    return out


def packed_bytes(shape: tuple[int, int], rank: int, a_bits: int, b_bits: int, group: int) -> int:
    """Bytes of one matrix's factors bit-packed (before the codec): A, B, the A scale and the B group scales."""
    out, inp = shape
    return -(-rank * out * a_bits // 8) + -(-rank * inp * b_bits // 8) + 2 + 2 * rank * -(-inp // group)


def rank_errors(state: Mapping[str, Tensor], tensors: Mapping[str, Tensor],
                meta: Mapping[str, dict]) -> list[tuple[str, float]]:
    """(name, ‖W − Ŵ‖_F) of every int-quantized matrix, largest first (ties by name)."""
    errs = []
    for n, i in meta.items():
        if i.get("kind") == "int" and len(i["shape"]) == 2:
            E = state[n].detach().cpu().float() - int_base(tensors, n, i)
            errs.append((n, float(torch.linalg.vector_norm(E))))
    return sorted(errs, key=lambda x: (-x[1], x[0]))


def apply_lqer(state: Mapping[str, Tensor], tensors: dict[str, Tensor], meta: dict[str, dict], cfg,
               log: Callable[[str], None] | None = None) -> tuple[dict[str, Tensor], dict[str, dict], dict]:
    """Add the factors of the top_k matrices to (tensors, meta) → (tensors, meta, report)."""
    log = log or (lambda m: None)
    tensors, meta = dict(tensors), {k: dict(v) for k, v in meta.items()}
    picked = rank_errors(state, tensors, meta)[: cfg.top_k]
    report = {"tensors": [], "packed_bytes": 0}
    for name, err in picked:
        if any(name + x in tensors or name + x in meta for x in SUFFIXES):
            raise PgolfError(f"quant.lqer: array names of {name}'s factors collide with existing tensors")
        W = state[name].detach().cpu().float()
        A, B = factorize(W - int_base(tensors, name, meta[name]), cfg.rank)
        qa, sa = quantize_a(A, cfg.a_bits)
        qb, sb = quantize_b(B, cfg.b_bits, cfg.b_group)
        tensors.update(zip((name + x for x in SUFFIXES), (qa, sa, qb, sb)))
        r = A.shape[1]
        meta[name]["lqer"] = {"rank": r, "a_bits": cfg.a_bits, "b_bits": cfg.b_bits, "group": cfg.b_group}
        after = float(torch.linalg.vector_norm(W - dequantize_corrected(tensors, name, meta[name], torch.float32)))
        nbytes = packed_bytes(tuple(W.shape), r, cfg.a_bits, cfg.b_bits, cfg.b_group)
        report["tensors"].append({"name": name, "err_before": err, "err_after": after, "packed_bytes": nbytes})
        report["packed_bytes"] += nbytes
        log(f"lqer: {name} {list(W.shape)} rank {r} | ‖W−Ŵ‖ {err:.4g} → {after:.4g} | {nbytes:,} bytes packed")
    log(f"lqer: corrected {len(picked)} of the int matrices (top_k {cfg.top_k}), {report['packed_bytes']:,} factor "
        f"bytes packed (A int{cfg.a_bits}, B int{cfg.b_bits} g{cfg.b_group})")
    return tensors, meta, report
