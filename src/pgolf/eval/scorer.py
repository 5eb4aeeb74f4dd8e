"""Batched, fixed-shape scoring of a list of windows: the one place where the model is run for evaluation.

Windows are grouped by a bucket length L (T for full windows; the next power of two ≥ 64, capped at T, for the
shorter windows of document-aware plans) and run in batches of at most rows = batch_tokens // L windows, planned by
pgolf.eval.batches: compiled, a bucket's tail runs at a few smaller row buckets (rows/2 … rows/8) instead of one
full padded batch; eager, at its exact size and the longest window's length. Short windows and empty rows are
padded with token 0 *after* their end; the model is causal, so padding never changes the scored positions, and
the scored positions are selected by a mask. The compiled shapes are a small fixed set, which is what lets
`torch.compile(model.token_losses, dynamic=False)` run without recompiling (compile is used on CUDA only; CPU runs
eager). `stats` (a BatchStats) counts batches, padded positions, targets and seconds for the eval's speed line. Compiling must not change what is computed:
the compiled function is the model's own `token_losses` on the same inputs, and the warm-up runs on random
tokens, never on validation tokens (SPEC_FRONTIER.md §5.1).

Bytes per target come from the LUT with the true previous token (the window's own input at that position), or from
the byte sidecar at the target's stream position (pgolf.eval.accounting), and the sums are float64 (pgolf.eval.bpb).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from pgolf.eval.batches import BatchStats, row_buckets, split_rows
from pgolf.eval.bpb import BpbAccumulator
from pgolf.eval.plan import Window
from pgolf.runtime.progress import bar

MIN_BUCKET = 64
# eager CPU batches hold at most this many positions: beyond a few thousand, a batch only adds memory traffic
# (B·L·V fp32 logits, softcap and log-softmax copies; 512×128 rows ran ~1.7–2× slower per token than 32×128 on a
# 1-thread CPU, benchmarks/eval_speed.py pr198 --small); said by describe()
EAGER_CPU_BATCH_TOKENS = 4096


def bucket_length(length: int, seq_len: int) -> int:
    """The padded length a window of `length` inputs runs at."""
    if length >= seq_len:
        return seq_len
    b = MIN_BUCKET
    while b < length:
        b *= 2
    return min(b, seq_len)


def window_batch(stream: Tensor, wins: list[Window] | Tensor, rows: int, L: int, with_pos: bool = False) -> tuple:
    """(x, y, scored mask), each (rows, L): windows padded after their end with 0, missing rows all-masked.
    wins: Windows, or an (n, 3) int64 tensor of them already on the stream's device. with_pos → a fourth (rows, L)
    tensor: the stream index of each target (clamped inside the stream), for byte-sidecar accounting."""
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
    if with_pos:
        return idx[:, :-1], idx[:, 1:], mask, pos[:, 1:]
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
        self.stats = BatchStats()

    def describe(self) -> str:
        if self.compiled:
            return "torch.compile(token_losses, dynamic=False), row buckets rows/1..rows/8 for tails"
        cap = f", ≤ {EAGER_CPU_BATCH_TOKENS:,} positions per batch" if self.device.type == "cpu" else ""
        return f"eager ({self.device.type}), exact batch shapes{cap}"

    def rows(self, L: int) -> int:
        tokens = self.batch_tokens
        if not self.compiled and self.device.type == "cpu":
            tokens = min(tokens, EAGER_CPU_BATCH_TOKENS)
        return max(1, tokens // L)

    def losses(self, x: Tensor, y: Tensor) -> Tensor:
        if self.autocast is None:
            return self.fn(x, y)
        with self.autocast():
            return self.fn(x, y)

    def plan(self, wins: list[Window]) -> list[tuple[int, int, list[int]]]:
        """[(rows, L, indices into wins)] of every batch (pgolf.eval.batches): bucket by length, then split rows."""
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(wins):
            groups.setdefault(bucket_length(w.length, self.seq_len), []).append(i)
        out = []
        for L, ids in sorted(groups.items()):
            off = 0
            for count, rows in split_rows(len(ids), self.rows(L), fixed=self.compiled):
                part = ids[off : off + count]
                off += count
                out.append((rows, L if self.compiled else max(wins[i].length for i in part), part))
        return out

    def shapes(self, wins: list[Window]) -> set[tuple[int, int]]:
        """The shapes scoring exactly `wins` runs at (one rank's share: pass what that rank will score)."""
        return {(rows, L) for rows, L, _ in self.plan(wins)}

    def all_shapes(self, wins: list[Window]) -> set[tuple[int, int]]:
        """Every shape any subset of `wins` may run at (compiled): each bucket length × each row bucket. For passes
        that score a plan piecewise (TTT chunks), whose tails are not known in advance."""
        return {(r, L) for L in {bucket_length(w.length, self.seq_len) for w in wins} for r in row_buckets(self.rows(L))}

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
    def score(self, stream: Tensor, wins: list[Window], acc: BpbAccumulator, keep: bool = False,
              progress: bool = True) -> list[Tensor]:
        """Score `wins` (any lengths ≤ T) on `stream` (integer ids, on device). keep → per-window NLL of the scored
        targets, in the order of `wins` (CPU float32; for tests and TTT bookkeeping). progress → a bar of windows
        (rank 0, terminal only; TTT, which scores chunk by chunk, draws its own bar over chunks instead)."""
        t0 = time.perf_counter()
        kept: list[Tensor | None] = [None] * len(wins) if keep else []
        table = torch.tensor(wins, dtype=torch.int64).view(-1, 3).to(stream.device)
        shown = bar(desc="eval", total=len(wins), unit="win", enabled=progress)
        for rows, L, part in self.plan(wins):
            x, y, mask, pos = window_batch(stream, table[torch.tensor(part, device=stream.device)], rows, L,
                                           with_pos=True)
            nll = self.losses(x, y).float()
            acc.add_masked(nll, x, y, mask, pos)
            self.stats.add(rows, L, sum(wins[i].length for i in part), sum(wins[i].length - wins[i].first
                                                                             for i in part))
            if keep:
                for r, i in enumerate(part):
                    kept[i] = nll[r][mask[r]].cpu()
            shown.update(len(part))
        shown.close()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.stats.seconds += time.perf_counter() - t0
        return kept
