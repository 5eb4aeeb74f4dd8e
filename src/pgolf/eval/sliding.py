"""Sliding-window evaluation that scores every target of the trimmed val stream exactly once.

Windows have length T. The first window (start 0) scores all T targets; window j ≥ 1 starts at j·s and scores its
last s targets; if (N − T) is not a multiple of s, one last window ending at N scores the remaining tail. With N = k·T
targets this covers targets 1..N exactly once — unlike the seeds, which re-score the final 64 tokens ~31 times
(SPEC_SEEDS.md §6.4). stride = T reproduces the standard evaluation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pgolf.eval.bpb import BpbAccumulator, DeviceLUT, EvalResult
from pgolf.runtime.dist import Runtime


def windows(n_targets: int, seq_len: int, stride: int) -> list[tuple[int, int]]:
    """(start, first scored position within the window) for every window; targets are start+1 .. start+T."""
    T, s, N = seq_len, stride, n_targets
    out = [(0, 0)]
    j = 1
    while j * s + T <= N:
        out.append((j * s, T - s))
        j += 1
    covered = T + (j - 1) * s
    if covered < N:
        out.append((N - T, T - (N - covered)))
    return out


@torch.no_grad()
def eval_sliding(model: nn.Module, tokens: np.ndarray, seq_len: int, stride: int, batch_windows: int,
                 lut: DeviceLUT, rt: Runtime) -> EvalResult:
    """tokens: an already trimmed stream (1 + k·T); windows are split contiguously across ranks."""
    T = seq_len
    wins = windows(tokens.size - 1, T, stride)
    lo, hi = len(wins) * rt.rank // rt.world_size, len(wins) * (rt.rank + 1) // rt.world_size
    mine = wins[lo:hi]
    acc = BpbAccumulator(lut, rt.device)
    was_training = model.training
    model.eval()
    src = torch.from_numpy(np.asarray(tokens, dtype=np.int64))
    for b in range(0, len(mine), batch_windows):
        batch = mine[b : b + batch_windows]
        idx = torch.stack([src[a : a + T + 1] for a, _ in batch]).to(rt.device)
        x, y = idx[:, :-1], idx[:, 1:]
        with rt.autocast():
            nll = model.token_losses(x, y)
        first = torch.tensor([f for _, f in batch], device=rt.device)
        mask = torch.arange(T, device=rt.device)[None, :] >= first[:, None]
        acc.add(nll[mask], x[mask], y[mask])
    model.train(was_training)
    return acc.result(rt)
