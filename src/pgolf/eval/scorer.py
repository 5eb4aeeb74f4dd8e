"""Batched, fixed-shape scoring of a list of windows: the one place where the model is run for evaluation.

Windows are grouped by a bucket length L (T for full windows; the next power of two ≥ 64, capped at T, for the
shorter windows of document-aware plans) and run as (rows, L) batches with rows = batch_tokens // L. Short
windows and the rows of a last, partial batch are padded with token 0 *after* their end; the model is causal,
so padding never changes the scored positions, and the scored positions are selected by a mask. Every batch of
one bucket therefore has one shape, which is what lets `torch.compile(model.token_losses, dynamic=False)` run
without recompiling (compile is used on CUDA only; CPU runs eager). Compiling must not change what is computed:
the compiled function is the model's own `token_losses` on the same inputs, and the warm-up runs on random
tokens, never on validation tokens (SPEC_FRONTIER.md §5.1).

Bytes per target come from the LUT with the true previous token (the window's own input at that position), and
the sums are float64 (pgolf.eval.bpb).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from pgolf.eval.bpb import BpbAccumulator
from pgolf.eval.plan import Window

MIN_BUCKET = 64


def bucket_length(length: int, seq_len: int) -> int:
    """The padded length a window of `length` inputs runs at."""
    if length >= seq_len:
        return seq_len
    b = MIN_BUCKET
    while b < length:
        b *= 2
    return min(b, seq_len)


def window_batch(stream: Tensor, wins: list[Window] | Tensor, rows: int, L: int) -> tuple[Tensor, Tensor, Tensor]:
    """(x, y, scored mask), each (rows, L): windows padded after their end with 0, missing rows all-masked.
    wins: Windows, or an (n, 3) int64 tensor of them already on the stream's device."""
    dev = stream.device
    w = wins if isinstance(wins, Tensor) else torch.tensor(wins, dtype=torch.int64).view(-1, 3).to(dev)
    if w.size(0) < rows:
        w = torch.cat((w, torch.zeros(rows - w.size(0), 3, dtype=torch.int64, device=dev)))
    starts, lengths, firsts = w[:, 0], w[:, 1], w[:, 2]
    ar = torch.arange(L + 1, device=dev)
    pos = (starts[:, None] + ar[None, :]).clamp_max(stream.numel() - 1)
    idx = torch.where(ar[None, :] <= lengths[:, None], stream[pos].long(), torch.zeros((), dtype=torch.int64, device=dev))
    p = ar[None, :L]
    mask = (p >= firsts[:, None]) & (p < lengths[:, None])
    return idx[:, :-1], idx[:, 1:], mask


class WindowScorer:
    """Runs `model.token_losses` on batches of windows and adds the scored targets to a BpbAccumulator."""

    def __init__(self, model: nn.Module, seq_len: int, batch_tokens: int, device: torch.device,
                 autocast: Callable = None, compile: bool = False, backend: str = "inductor"):
        self.model = model
        self.seq_len = seq_len
        self.batch_tokens = batch_tokens
        self.device = device
        self.autocast = autocast
        self.compiled = compile
        fn = model.token_losses
        if compile:
            import torch._dynamo  # heavy, cold path: only a compiled scorer configures dynamo

            # one graph per bucket shape and grad mode; never fall back to eager silently for lack of cache room
            dc = torch._dynamo.config
            key = "recompile_limit" if hasattr(dc, "recompile_limit") else "cache_size_limit"
            setattr(dc, key, max(getattr(dc, key), 64))
            fn = torch.compile(fn, dynamic=False, backend=backend)
        self.fn = fn
        self.warmup_seconds = 0.0

    def describe(self) -> str:
        return "torch.compile(token_losses, dynamic=False)" if self.compiled else f"eager ({self.device.type})"

    def rows(self, L: int) -> int:
        return max(1, self.batch_tokens // L)

    def losses(self, x: Tensor, y: Tensor) -> Tensor:
        if self.autocast is None:
            return self.fn(x, y)
        with self.autocast():
            return self.fn(x, y)

    def shapes(self, wins: list[Window]) -> set[tuple[int, int]]:
        return {(self.rows(L), L) for L in {bucket_length(w.length, self.seq_len) for w in wins}}

    def warmup(self, shapes: set[tuple[int, int]], vocab_size: int, grad: bool = False) -> float:
        """Run every shape once on random tokens (compile happens here, never on validation data)."""
        t0 = time.perf_counter()
        g = torch.Generator().manual_seed(0)
        for rows, L in sorted(shapes):
            x = torch.randint(0, vocab_size, (rows, L + 1), generator=g).to(self.device)
            if grad:
                self.losses(x[:, :-1], x[:, 1:]).sum().backward()
            else:
                with torch.inference_mode():
                    self.losses(x[:, :-1], x[:, 1:])
        if grad:
            self.model.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        dt = time.perf_counter() - t0
        self.warmup_seconds += dt
        return dt

    @torch.inference_mode()
    def score(self, stream: Tensor, wins: list[Window], acc: BpbAccumulator, keep: bool = False) -> list[Tensor]:
        """Score `wins` (any lengths ≤ T) on `stream` (integer ids, on device). keep → per-window NLL of the scored
        targets, in the order of `wins` (CPU float32; for tests and TTT bookkeeping)."""
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(wins):
            groups.setdefault(bucket_length(w.length, self.seq_len), []).append(i)
        kept: list[Tensor | None] = [None] * len(wins) if keep else []
        for L, ids in sorted(groups.items()):
            rows = self.rows(L)
            table = torch.tensor([wins[i] for i in ids], dtype=torch.int64).to(stream.device)
            for b in range(0, len(ids), rows):
                part = ids[b : b + rows]
                x, y, mask = window_batch(stream, table[b : b + rows], rows, L)
                nll = self.losses(x, y).float()
                acc.add_masked(nll, x, y, mask)
                if keep:
                    for r, i in enumerate(part):
                        kept[i] = nll[r][mask[r]].cpu()
        return kept
