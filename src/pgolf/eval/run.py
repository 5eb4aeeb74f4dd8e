"""One entry point for scoring a model on a val stream.

stride 0 (or ≥ T) = the standard non-overlapping windows, else sliding windows; `doc_aware` keeps windows inside
documents (split at the model's `cfg.bos_id`); `ttt` runs score-first test-time training (full-model, or per-document LoRA when `ttt.lora` is set —
that variant is document-aware by construction and its chunk size plays the role of the stride). Every path
scores each target of the trimmed stream exactly once, so `scored_tokens`/`scored_bytes` are the same for all.
`batch_tokens` is global: each rank runs batches of batch_tokens / world_size tokens.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from pgolf.eval.bpb import DeviceLUT, EvalResult
from pgolf.eval.config import EvalConfig, TTTConfig
from pgolf.eval.plan import model_bos, sliding_plan
from pgolf.eval.sliding import eval_plan
from pgolf.eval.ttt import TTTResult, eval_ttt_full
from pgolf.eval.ttt_lora import eval_ttt_lora
from pgolf.eval.ttt_phased import eval_ttt_phased
from pgolf.model.control import CONTROL_PATTERNS
from pgolf.runtime.dist import Runtime


def evaluate(model: nn.Module, tokens: np.ndarray, seq_len: int, stride: int, batch_tokens: int, lut: DeviceLUT,
             rt: Runtime, doc_aware: bool = False, compile: bool = False) -> EvalResult:
    """tokens: the trimmed val stream (1 + k·T)."""
    plan = sliding_plan(tokens, seq_len, stride, doc_aware, model_bos(model))
    return eval_plan(model, tokens, plan, seq_len, lut, rt, rank_batch(batch_tokens, rt),
                     compile=compile and rt.is_cuda)[0]


def rank_batch(batch_tokens: int, rt: Runtime) -> int:
    return max(1, batch_tokens // rt.world_size)


def evaluate_ttt(model: nn.Module, tokens: np.ndarray, seq_len: int, stride: int, batch_tokens: int,
                 lut: DeviceLUT, rt: Runtime, ttt: TTTConfig, doc_aware: bool = False,
                 compile: bool = False, control_patterns: tuple[str, ...] = CONTROL_PATTERNS) -> TTTResult:
    """Score-first TTT as `ttt` says; control_patterns = the run's quant.control_patterns (ttt.params=control)."""
    compile = compile and rt.is_cuda
    if ttt.phased is not None:
        return eval_ttt_phased(model, tokens, seq_len, ttt, lut, rt, compile=compile, bos_id=model_bos(model))
    if ttt.lora is not None:
        return eval_ttt_lora(model, tokens, seq_len, ttt, lut, rt, compile=compile, bos_id=model_bos(model))
    return eval_ttt_full(model, tokens, seq_len, stride, doc_aware, ttt, lut, rt, rank_batch(batch_tokens, rt),
                         compile=compile, bos_id=model_bos(model), control_patterns=control_patterns)


def evaluate_config(model: nn.Module, tokens: np.ndarray, e: EvalConfig, seq_len: int, lut: DeviceLUT,
                    rt: Runtime, with_ttt: bool = True,
                    control_patterns: tuple[str, ...] = CONTROL_PATTERNS) -> tuple[EvalResult, dict | None]:
    """Evaluate as the config says; → (result, TTT stats or None). with_ttt=False skips TTT (periodic val).
    control_patterns: the run's quant.control_patterns (what eval.ttt.params=control adapts)."""
    if with_ttt and e.ttt is not None:
        r = evaluate_ttt(model, tokens, seq_len, e.stride, e.batch_tokens, lut, rt, e.ttt, e.doc_aware, e.compile,
                         control_patterns)
        return r.result, r.stats
    return evaluate(model, tokens, seq_len, e.stride, e.batch_tokens, lut, rt, e.doc_aware, e.compile), None
