"""The post-training pipeline, one entry point: prune → GPTQ (+ AWQ-lite) or RTN by the policy table → LQER, and
the selective ±1 pruning that fits the result to a byte target.

`quantize_model_state(state, quant, num_layers, hessians)` is what an export runs on the final weights: magnitude
pruning (quant.prune, #295/#443), the policy table at the model's depth (pgolf.quant.policy; GPTQ where Hessians
are given, quant.gptq, #1473; salient column groups at higher width inside the same solve, quant.awq, #1908), then
the low-rank error correction (quant.lqer, #1797/#1855). `prune_to_fit` is #1473's selective ±1 pruning against a
caller-supplied sizer (the artifact encoder), so this package never serialises. Invariants: deterministic given the
same state, Hessians and config; GPTQ runs on the GPU when there is one (the log line says which device).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import torch
from torch import Tensor

from pgolf.quant.awq import select
from pgolf.quant.config import QuantConfig
from pgolf.quant.gptq import gptq_quantize
from pgolf.quant.lqer import apply_lqer
from pgolf.quant.policy import policy_for, quantize_state_dict
from pgolf.quant.prune import magnitude_prune, selective_prune

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def quantize_model_state(state: Mapping[str, Tensor], quant: QuantConfig, num_layers: int,
                         hessians: Mapping[str, Tensor] | None = None,
                         log: Log | None = None) -> tuple[dict[str, Tensor], dict[str, dict]]:
    """→ (tensors to store, per-name metadata) of `state` under the quant block, at a model of `num_layers`."""
    log = log or _quiet
    q = quant
    if q.prune is not None:
        state = magnitude_prune(state, q.prune)
    gptq = None
    if q.gptq is not None and hessians:
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        log(f"gptq: {len(hessians)} Hessians, quantizing on {dev}")
        gptq = partial(gptq_quantize, cfg=q.gptq, device=dev)
    policy = policy_for(q, num_layers)
    awq = None
    if q.awq is not None and gptq is not None:
        awq = (select(state, hessians, policy, q.awq), q.awq)
        log(f"awq: int{q.awq.bits} groups of {q.awq.group} columns in "
            f"{len(awq[0])} matrices ({q.awq.scope} top {q.awq.top_k})")
    tensors, qmeta = quantize_state_dict(state, policy, hessians, gptq, awq)
    if q.lqer is not None:
        tensors, qmeta, _ = apply_lqer(state, tensors, qmeta, q.lqer, log)
    return tensors, qmeta


def prune_to_fit(tensors: dict[str, Tensor], qmeta: dict, quant: QuantConfig, sizer: Callable[[dict], int],
                 max_bytes: int, log: Log | None = None) -> tuple[dict[str, Tensor], dict | None]:
    """quant.selective_prune: zero the cheapest ±1 values until sizer(tensors) ≤ target_bytes (0 = max_bytes, the
    artifact's cap); → (tensors, report) — unchanged and None without the block."""
    sp = quant.selective_prune
    if sp is None:
        return tensors, None
    target = sp.target_bytes or max_bytes
    return selective_prune(tensors, qmeta, sizer, target, tuple(sp.bits), log or _quiet)
