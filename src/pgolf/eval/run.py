"""One entry point for scoring a model on a val stream: standard when stride is 0 or ≥ T, else sliding."""

from __future__ import annotations

import numpy as np
from torch import nn

from pgolf.eval.bpb import DeviceLUT, EvalResult
from pgolf.eval.sliding import eval_sliding
from pgolf.eval.standard import eval_standard
from pgolf.runtime.dist import Runtime


def evaluate(model: nn.Module, tokens: np.ndarray, seq_len: int, stride: int, batch_tokens: int, lut: DeviceLUT,
             rt: Runtime) -> EvalResult:
    """tokens: the trimmed val stream (1 + k·T)."""
    if stride <= 0 or stride >= seq_len:
        return eval_standard(model, tokens, seq_len, batch_tokens, lut, rt)
    return eval_sliding(model, tokens, seq_len, stride, max(1, batch_tokens // seq_len), lut, rt)
