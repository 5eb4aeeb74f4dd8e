"""AWQ-lite: keep the most salient group of input columns of a GPTQ'd matrix at a higher precision (int8), solved
inside the same GPTQ pass.

Source: openai/parameter-golf #1908 (romeerp, "activation-aware GPTQ"; also #1923), SPEC_FRONTIER §4.5; the saliency
is AWQ's (Lin et al. 2023) act-scale × weight-scale heuristic, without AWQ's rescaling.
  1. act_rms_j = √H_jj: the calibration Hessian is H = mean XᵀX, so its diagonal is each input column's mean square
     (#1908 collects the same sums of squares with separate hooks);
  2. saliency_j = act_rms_j · mean_i |W_ij|; a group's score is the sum over `group` consecutive columns starting at
     a multiple of `group` (a last partial group is never chosen, as in #1908);
  3. scope "matrix": the top_k groups of every GPTQ'd int matrix whose bits < `bits`; scope "model": the top_k
     groups over all of them (#1908's code: AWQ_LITE_GROUP_TOP_K=1, one group in the model); ties by (name, start);
  4. GPTQ (pgolf.quant.gptq, `hi`) quantizes the chosen columns with s_hi = clip/(2^(bits−1) − 1) — the same
     per-row clip as the matrix's grid — and the rest at the matrix's bits, in one error-feedback solve.
Artifact: the main int8 array keeps the matrix's bits (zeros in the chosen columns, so it still bit-packs at N
bits); NAME.awq_q (rows × n·group int8 at `bits`) holds the chosen columns in start order and NAME.awq_scale the
fp16 per-row s_hi; the metadata entry gains "awq": {"bits", "group", "starts"}. Load: Ŵ = q·s, then the chosen
columns are overwritten by awq_q·s_hi. Arrays that do not fit, or that no entry claims, are errors.
Bytes: per protected matrix, rows·n·group·bits/8 + 2·rows stored, minus the zeroed columns' share of the main array.
`artifact.size` counts the two arrays in their own group "awq".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import torch
from torch import Tensor

from pgolf.quant.rtn import IntSpec

SUFFIXES = (".awq_q", ".awq_scale")


def saliency(w: Tensor, H: Tensor) -> Tensor:
    """Per input column: √diag(H) · mean|w| over rows (fp32)."""
    return H.diagonal().float().clamp_min(0).sqrt() * w.detach().float().abs().mean(dim=0)


def group_scores(w: Tensor, H: Tensor, group: int) -> Tensor:
    """Score of each aligned group of `group` columns (the last partial group is dropped)."""
    n = w.shape[1] // group
    return saliency(w, H)[: n * group].view(n, group).sum(dim=1)


def select(state: Mapping[str, Tensor], hessians: Mapping[str, Tensor], policy, cfg) -> dict[str, tuple[int, ...]]:
    """{name: sorted group starts} of the protected groups (see module docstring, steps 2–3)."""
    cands: list[tuple[float, str, int]] = []
    for name, t in state.items():
        rule = policy.rule_for(name, t)
        H = hessians.get(name)
        if rule is None or rule.action != "int" or rule.bits >= cfg.bits or H is None or t.ndim != 2:
            continue
        scores = group_scores(t, H, cfg.group).tolist()
        ranked = sorted(((-sc, name, g * cfg.group) for g, sc in enumerate(scores)))
        cands += ranked[: cfg.top_k] if cfg.scope == "matrix" else ranked
    picked = sorted(cands)[: cfg.top_k] if cfg.scope == "model" else cands
    out: dict[str, list[int]] = {}
    for _, name, start in picked:
        out.setdefault(name, []).append(start)
    return {n: tuple(sorted(v)) for n, v in out.items()}


def column_mask(cols: int, starts: tuple[int, ...], group: int) -> Tensor:
    m = torch.zeros(cols, dtype=torch.bool)
    for s in starts:
        m[s: s + group] = True
    return m


def _cols(starts, group: int) -> Tensor:
    return torch.cat([torch.arange(s, s + group) for s in starts])


def quantize_protected(gptq, w: Tensor, H: Tensor, spec: IntSpec, starts: tuple[int, ...], cfg
                       ) -> tuple[Tensor, Tensor, dict[str, Tensor], dict]:
    """Mixed GPTQ of one matrix → (main q with the chosen columns zeroed, s, {suffix: array}, metadata entry)."""
    hi = replace(spec, bits=cfg.bits)
    q, s, s_hi = gptq(w, H, spec, hi=(column_mask(w.shape[1], starts, cfg.group), hi))
    cols = _cols(starts, cfg.group)
    q_hi = q[:, cols].contiguous()
    q = q.clone()
    q[:, cols] = 0
    return q, s, {".awq_q": q_hi, ".awq_scale": s_hi}, {"bits": cfg.bits, "group": cfg.group, "starts": list(starts)}


def int_base(tensors: Mapping[str, Tensor], name: str, info: Mapping) -> Tensor:
    """Ŵ in fp32 of an int entry, the protected columns included (ValueError when the AWQ arrays do not fit)."""
    q, s = tensors[name], tensors[name + ".scale"].float()
    W = q.float() * (s.view(q.shape[0], *([1] * (q.ndim - 1))) if s.ndim else s)
    a = info.get("awq")
    if not a:
        return W
    qh, sh = tensors[name + ".awq_q"], tensors[name + ".awq_scale"]
    g, starts = int(a["group"]), [int(x) for x in a["starts"]]
    if (q.ndim != 2 or qh.shape != (q.shape[0], g * len(starts)) or sh.shape != (q.shape[0],)
            or any(x < 0 or x + g > q.shape[1] for x in starts)):
        raise ValueError(f"{name}: AWQ arrays {list(qh.shape)} / {list(sh.shape)} do not fit {list(q.shape)}")
    W[:, _cols(starts, g)] = qh.float() * sh.float()[:, None]
    return W


def check_arrays(tensors: Mapping[str, Tensor], meta: Mapping[str, dict]) -> None:
    """ValueError for an AWQ array whose tensor's entry has no "awq" key (it would be silently ignored)."""
    for a in tensors:
        for x in SUFFIXES:
            if a.endswith(x) and not (meta.get(a[: -len(x)]) or {}).get("awq"):
                raise ValueError(f"{a}: an AWQ array without a protected tensor entry")


def awq_bits(meta: Mapping[str, dict]) -> dict[str, int]:
    """Array name → bit width of the protected-column arrays (for bit-packed storage)."""
    return {n + ".awq_q": int(i["awq"]["bits"]) for n, i in meta.items() if isinstance(i, dict) and i.get("awq")}
