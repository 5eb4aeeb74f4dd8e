"""Standard evaluation: non-overlapping windows of length T over the val stream trimmed to 1 + k·T tokens.

Sequences are split contiguously across ranks; every target of the trimmed stream is scored once with the context
of its own window (SPEC_SEEDS.md §1.8, "eval_val").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pgolf.errors import PgolfError
from pgolf.eval.bpb import BpbAccumulator, DeviceLUT, EvalResult
from pgolf.runtime.dist import Runtime
from pgolf.runtime.progress import bar


def trim_val(tokens: np.ndarray, seq_len: int, max_tokens: int = 0) -> np.ndarray:
    """The first 1 + k·T tokens (k as large as fits; a `max_tokens` prefix first when > 0)."""
    if max_tokens > 0:
        tokens = tokens[: max_tokens + 1]
    k = (tokens.size - 1) // seq_len
    if k <= 0:
        raise PgolfError(f"validation split has {tokens.size} tokens: too short for eval seq_len {seq_len}")
    return tokens[: k * seq_len + 1]


@torch.no_grad()
def eval_standard(model: nn.Module, tokens: np.ndarray, seq_len: int, batch_tokens: int, lut: DeviceLUT,
                  rt: Runtime) -> EvalResult:
    """tokens: an already trimmed stream (1 + k·T)."""
    T = seq_len
    n_seq = (tokens.size - 1) // T
    lo, hi = n_seq * rt.rank // rt.world_size, n_seq * (rt.rank + 1) // rt.world_size
    per_batch = max(1, batch_tokens // (T * rt.world_size))
    acc = BpbAccumulator(lut, rt.device)
    was_training = model.training
    model.eval()
    for s in bar(range(lo, hi, per_batch), "eval", unit="batch"):
        e = min(s + per_batch, hi)
        chunk = torch.from_numpy(np.asarray(tokens[s * T : e * T + 1], dtype=np.int64)).to(rt.device)
        x, y = chunk[:-1].view(-1, T), chunk[1:].view(-1, T)
        with rt.autocast():
            nll = model.token_losses(x, y)
        acc.add(nll, x, y, torch.arange(s * T + 1, e * T + 1, device=rt.device).view(-1, T))
    model.train(was_training)
    return acc.result(rt)
