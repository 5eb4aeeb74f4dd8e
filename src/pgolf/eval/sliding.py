"""Sliding-window evaluation that scores every target of the trimmed val stream exactly once.

Windows have length T and stride s (pgolf.eval.plan.stream_plan): window 0 scores all T targets, every later
window its last s, and one last window ending at N scores any remaining tail. With N = k·T targets this covers
targets 1..N exactly once — unlike the seeds, which re-score the final 64 tokens ~31 times (SPEC_SEEDS.md §6.4) —
so `scored_tokens`/`scored_bytes` equal the standard evaluation's and stride = T reproduces it. With
`doc_aware`, windows stay inside BOS-delimited documents (pgolf.eval.plan.doc_plan for the exact rule).

Windows are split contiguously across ranks, run in fixed-shape batches (pgolf.eval.scorer; compiled on CUDA),
and the float64 sums are all-reduced. Source of the method: #198's `eval_val_sliding` (SPEC_SEEDS.md §1.8).

Eval length vs training length: the window length T is passed to the model as the sequence length, and RoPE is
computed for positions 0..T−1 with whatever the model's config says (pgolf's Rotary has a fixed base, so a T
longer than the training length extrapolates to positions never trained; #198/#1473 instead rescale the base
NTK-style whenever T > 1024 — to reproduce that, set the model's RoPE option explicitly; see `rope_note`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from pgolf.eval.batches import BatchStats
from pgolf.eval.bpb import BpbAccumulator, DeviceLUT, EvalResult
from pgolf.eval.plan import Window, model_bos, sliding_plan, split_for_rank, windows  # noqa: F401 (re-export)
from pgolf.eval.scorer import WindowScorer
from pgolf.model.layers import Rotary
from pgolf.runtime.dist import Runtime


def device_stream(tokens: np.ndarray, device: torch.device) -> torch.Tensor:
    """The val stream on the device as int32 (half of int64 for 62M FineWeb tokens; batches are made int64)."""
    return torch.from_numpy(np.asarray(tokens, dtype=np.int32)).to(device)


def rope_note(model: nn.Module, seq_len: int, overridden: bool = False) -> str:
    """One log line saying which RoPE the model will use at eval length T."""
    bases = sorted({float(m.base) for m in model.modules() if hasattr(m, "inv_freq") and hasattr(m, "base")})
    where = ", ".join(f"{b:g}" for b in bases) or "none found"
    how = "set for this evaluation (--rope-base)" if overridden else "as configured in the model"
    return f"rope: eval length {seq_len}, base {where} {how} (no implicit rescaling)"


def set_rope_base(model: nn.Module, base: float) -> int:
    """Give every Rotary of the model the RoPE base `base` (an explicit eval-time choice, e.g. an NTK base for an
    eval length above the training length); weights are untouched. Returns the number of Rotary modules changed."""
    if not base > 0:
        raise ValueError(f"RoPE base must be > 0, got {base}")
    n = 0
    for m in model.modules():
        if isinstance(m, Rotary):
            fresh = Rotary(m.rope_dims, base=base)  # rope_dims rotated dims: the same inv_freq ladder at `base`
            m.inv_freq.copy_(fresh.inv_freq.to(m.inv_freq.device))
            m.base = base
            n += 1
    if n and hasattr(model, "cfg") and hasattr(model.cfg, "rope_base"):
        model.cfg = replace(model.cfg, rope_base=base)
    return n


def eval_plan(model: nn.Module, tokens: np.ndarray, plan: list[Window], seq_len: int, lut: DeviceLUT,
              rt: Runtime, batch_tokens: int, scorer: WindowScorer | None = None, keep: bool = False,
              compile: bool = False) -> tuple[EvalResult, list[torch.Tensor]]:
    """Score this rank's contiguous share of `plan`; all-reduce. keep → this rank's per-window NLL."""
    scorer = scorer or WindowScorer(model, seq_len, batch_tokens, rt.device, rt.autocast, compile=compile)
    mine = split_for_rank(plan, rt.rank, rt.world_size)
    acc = BpbAccumulator(lut, rt.device)
    was_training = model.training
    model.eval()
    before = scorer.stats
    scorer.stats = BatchStats()
    try:
        kept = scorer.score(device_stream(tokens, rt.device), mine, acc, keep=keep)
    finally:
        model.train(was_training)
        this, scorer.stats = scorer.stats, before.merge(scorer.stats)
    return replace(acc.result(rt), speed={**this.to_dict(), "path": scorer.describe()}), kept


def eval_sliding(model: nn.Module, tokens: np.ndarray, seq_len: int, stride: int, batch_windows: int,
                 lut: DeviceLUT, rt: Runtime, doc_aware: bool = False, compile: bool = False,
                 bos_id: int | None = None) -> EvalResult:
    """tokens: an already trimmed stream (1 + k·T); batch_windows windows of length T per batch. doc_aware splits
    documents at bos_id, by default the model's own cfg.bos_id."""
    if doc_aware and bos_id is None:
        bos_id = model_bos(model)
    plan = sliding_plan(tokens, seq_len, stride, doc_aware, bos_id)
    return eval_plan(model, tokens, plan, seq_len, lut, rt, batch_windows * seq_len, compile=compile)[0]
