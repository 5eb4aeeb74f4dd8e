"""Shuffled sequence loader: every (T+1)-token window of the train set once per epoch, in a seeded order.

Idea (SPEC_FRONTIER.md §1.3: the coprime-stride loader of PR #726/#1060 and the random-phase
`ShuffledSequenceLoader` of PR #1394, rewritten to be world-size invariant and resumable): the train shards form
one virtual token array of N tokens. Epoch e draws, from `default_rng([seed, e])`, a phase p ∈ [0, T), an offset
o and a stride s coprime to the window count n = (N − 1 − p) // T; its k-th window starts at p + T·((o + k·s) mod n).
Because gcd(s, n) = 1 that walk visits every window of the epoch exactly once, with O(1) memory; the random phase
shifts the window grid between epochs. Windows may straddle shards.

Invariants: the global order of windows depends only on the seed and the data, never on the world size — micro-step
m of rank r takes windows [(m·world + r)·b, (m·world + r + 1)·b) of the step, b = local / T — so the global batch is
identical on 1, 2 or 8 ranks, and no rank communicates. The state is {"kind", "epoch", "index"}: exact resume.
Adds no parameters and no artifact bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pgolf.data.loader import ShardSet, _Prefetching
from pgolf.data.shards import shard_files
from pgolf.errors import PgolfError


class ShuffledLoader(_Prefetching):
    kind = "shuffled"

    def __init__(self, data_dir: Path, rank: int, world: int, device: torch.device, vocab_size: int | None = None,
                 *, seed: int = 0, prefetch: bool | None = None):
        self.data = ShardSet(shard_files(data_dir, "train"), vocab_size)
        self.seed = int(seed)
        super().__init__(rank, world, device, prefetch)
        self.cursor = (0, 0)  # (epoch, index within the epoch)
        self._plans: dict[tuple[int, int], tuple[int, int, int, int]] = {}

    def plan(self, epoch: int, seq_len: int) -> tuple[int, int, int, int]:
        """(phase, windows, offset, stride) of an epoch for sequences of `seq_len` tokens."""
        key = (epoch, seq_len)
        if key not in self._plans:
            rng = np.random.default_rng([self.seed, epoch, seq_len])
            n_max = self.data.total - 1
            if n_max < seq_len:
                raise PgolfError(f"{self.data.files[0].parent}: the train shards hold {self.data.total} tokens, "
                                 f"fewer than one sequence of train.seq_len={seq_len} + 1")
            phase = int(rng.integers(min(seq_len, n_max - seq_len + 1)))
            n = (n_max - phase) // seq_len
            offset = int(rng.integers(n))
            stride = int(rng.integers(1, n)) if n > 1 else 1
            while math.gcd(stride, n) != 1:
                stride = stride % (n - 1) + 1
            self._plans[key] = (phase, n, offset, stride)
        return self._plans[key]

    def starts(self, epoch: int, index: int, count: int, seq_len: int) -> tuple[np.ndarray, tuple[int, int]]:
        """Start offsets of `count` windows from (epoch, index) on → (starts, position after them)."""
        out = []
        while count > 0:
            phase, n, offset, stride = self.plan(epoch, seq_len)
            take = min(count, n - index)
            k = np.arange(index, index + take, dtype=np.int64)
            out.append(phase + seq_len * ((offset + k * stride) % n))
            index, count = index + take, count - take
            if index == n:
                epoch, index = epoch + 1, 0
        return (np.concatenate(out) if out else np.zeros(0, np.int64)), (epoch, index)

    def _make(self, cursor, args):
        batch_tokens, seq_len, accum = args
        b = self._local(batch_tokens, seq_len, accum) // seq_len
        epoch, index = cursor
        # skip the ranks before this one, take b windows, then skip to the end of the global micro-batch
        _, at = self.starts(epoch, index, self.rank * b, seq_len)
        mine, _ = self.starts(*at, b, seq_len)
        _, nxt = self.starts(epoch, index, self.world * b, seq_len)
        rows = self.data.gather(mine, seq_len + 1)
        x, y = rows[:, :-1].astype(np.int64), rows[:, 1:].astype(np.int64)  # contiguous copies, in numpy
        return (torch.from_numpy(x), torch.from_numpy(y)), nxt

    def next_batch(self, batch_tokens: int, seq_len: int, accum_per_rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._next(batch_tokens, seq_len, accum_per_rank)
        return self._to_device(x), self._to_device(y)

    def state(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "epoch": self.cursor[0], "index": self.cursor[1]}

    def load_state(self, state: dict) -> None:
        if state.get("kind") != self.kind:
            raise PgolfError(f"loader state: saved by a {state.get('kind', 'sequential')!r} loader, this one is "
                             f"{self.kind!r}")
        if int(state.get("seed", self.seed)) != self.seed:
            raise PgolfError(f"loader state: saved with seed {state['seed']}, this loader uses {self.seed}")
        self.cursor = (int(state["epoch"]), int(state["index"]))
