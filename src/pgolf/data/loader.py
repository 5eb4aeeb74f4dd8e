"""The challenge's sequential token stream and its per-rank, gradient-accumulated batches (SPEC_SEEDS.md §1.1).

Train shards are read in sorted order and wrap around forever. Each micro-step takes world·(local+1) contiguous
tokens; rank r gets the r-th span of local+1 tokens, x = span[:-1], y = span[1:], shaped (local/T, T), with
local = batch_tokens / (world·accum_per_rank). Micro-step m of rank r therefore holds global span m·world + r, so
the global batch of a step is the same on 1, 2 or 8 ranks. The stream's position is its whole state
(`state()` → {"file_idx", "pos"}, `load_state()`), so a run resumes exactly.

Every loader here (sequential, shuffled.py, packed.py) computes a micro-batch as a pure function of a cursor, which
lets one background thread prepare (and, on CUDA, pin) the next micro-batch while the current step runs
(`prefetch`, default: on for CUDA devices): the guess is used only when the next call has the same arguments, so
prefetching never changes what a step sees.
Token ids are checked against the vocabulary per micro-batch (a bad id names its shard and position), so opening
a shard never stalls a step on a full scan. `pgolf.data.train_loader.build_loader` picks the kind from `data.loader`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from pgolf.data.shards import read_header, read_shard, shard_files
from pgolf.errors import PgolfError


class ShardSet:
    """The train shards as one virtual array (memory-mapped, opened lazily); `read(start, n)` wraps around."""

    def __init__(self, files: list[Path], vocab_size: int | None = None):
        self.files = list(files)
        self.vocab_size = vocab_size
        counts = np.array([read_header(p) for p in self.files], dtype=np.int64)
        self.total = int(counts.sum())
        if self.total == 0:
            raise PgolfError(f"{self.files[0].parent}: the train shards hold no tokens")
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self._maps: dict[int, np.ndarray] = {}

    def _map(self, i: int) -> np.ndarray:
        if i not in self._maps:
            self._maps[i] = read_shard(self.files[i])
        return self._maps[i]

    def locate(self, offset: int) -> tuple[int, int]:
        """Global offset (mod total) → (file index, position in file)."""
        offset %= self.total
        i = int(np.searchsorted(self.starts, offset, side="right")) - 1
        return i, offset - int(self.starts[i])

    def read(self, start: int, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.uint16)
        filled = 0
        while filled < n:
            i, pos = self.locate(start + filled)
            toks = self._map(i)
            k = min(n - filled, toks.size - pos)
            out[filled : filled + k] = toks[pos : pos + k]
            filled += k
        self.check_ids(out, start)
        return out

    def gather(self, starts: np.ndarray, n: int) -> np.ndarray:
        """Windows of n tokens at each global offset in `starts` → (len(starts), n), one fancy index per shard."""
        starts = np.asarray(starts, dtype=np.int64) % self.total
        fi = np.searchsorted(self.starts, starts, side="right") - 1
        local = starts - self.starts[fi]
        fits = local + n <= self.starts[fi + 1] - self.starts[fi]
        out = np.empty((starts.size, n), dtype=np.uint16)
        for i in np.unique(fi[fits]).tolist():
            rows = np.flatnonzero(fits & (fi == i))
            out[rows] = self._map(i)[local[rows, None] + np.arange(n)]
        for r in np.flatnonzero(~fits).tolist():  # windows that straddle two shards (or wrap around)
            out[r] = self.read(int(starts[r]), n)
        if self.vocab_size is not None and out.size and int(out.max()) >= self.vocab_size:
            r = int(np.argmax((out >= self.vocab_size).any(axis=1)))
            self.check_ids(out[r], int(starts[r]))
        return out

    def check_ids(self, toks: np.ndarray, start: int) -> None:
        if self.vocab_size is None or not toks.size:
            return
        mx = int(toks.max())
        if mx >= self.vocab_size:
            i, pos = self.locate(start + int(np.argmax(toks >= self.vocab_size)))
            raise PgolfError(f"{self.files[i]}: token id {mx} ≥ vocab size {self.vocab_size} (first at position {pos})")


def split_xy(span: np.ndarray, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) = (span[:-1], span[1:]) as separate int64 (n/T, T) tensors (never aliased: y may be edited in place)."""
    x = torch.from_numpy(span[:-1].astype(np.int64)).view(-1, seq_len)
    return x, torch.from_numpy(span[1:].astype(np.int64)).view(-1, seq_len)


class _Prefetching:
    """Shared machinery: `_make(cursor, args) -> (cpu batch, next cursor)` is pure; one thread runs it ahead."""

    kind = "base"

    def __init__(self, rank: int, world: int, device: torch.device, prefetch: bool | None):
        if world < 1 or not 0 <= rank < world:
            raise PgolfError(f"loader: rank {rank} is not in a world of {world}")
        self.rank, self.world, self.device = rank, world, torch.device(device)
        if prefetch is None:  # auto: on CUDA; on CPU the thread hand-off costs more than the work (benchmarks/)
            prefetch = self.device.type == "cuda"
        self.cursor = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"pgolf-{self.kind}-loader") if prefetch else None
        self._ahead = None  # (cursor, args, future)

    def _local(self, batch_tokens: int, seq_len: int, accum_per_rank: int) -> int:
        local = batch_tokens // (self.world * accum_per_rank)
        if local <= 0 or local % seq_len or batch_tokens % (self.world * accum_per_rank):
            raise PgolfError(f"train.batch_tokens={batch_tokens}: must split into world {self.world} × accum "
                             f"{accum_per_rank} micro-batches of whole sequences of train.seq_len={seq_len}")
        return local

    def _make(self, cursor, args):
        raise NotImplementedError

    def _produce(self, cursor, args):
        """_make, with the CPU tensors pinned for an asynchronous H2D copy on CUDA (runs on the prefetch thread)."""
        batch, nxt = self._make(cursor, args)
        if self.device.type == "cuda":
            pin = lambda t: t.pin_memory() if isinstance(t, torch.Tensor) else t
            batch = tuple(map(pin, batch)) if isinstance(batch, tuple) else pin(batch)
        return batch, nxt

    def _next(self, *args):
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == self.cursor and ahead[1] == args:
            batch, nxt = ahead[2].result()
        else:
            if ahead is not None:
                ahead[2].cancel()
            batch, nxt = self._produce(self.cursor, args)
        self.cursor = nxt
        if self._pool is not None:
            self._ahead = (nxt, args, self._pool.submit(self._produce, nxt, args))
        return batch

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device, non_blocking=True) if self.device.type == "cuda" else t

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._ahead = None, None

    def describe(self) -> str:
        return f"loader {self.kind} | prefetch {'1 thread' if self._pool is not None else 'off'}"


class DistributedTokenLoader(_Prefetching):
    """Yields (x, y) micro-batches for one rank of `world`; every rank advances the shared stream identically."""

    kind = "sequential"

    def __init__(self, data_dir: Path, rank: int, world: int, device: torch.device, vocab_size: int | None = None,
                 *, prefetch: bool | None = None):
        self.data = ShardSet(shard_files(data_dir, "train"), vocab_size)
        super().__init__(rank, world, device, prefetch)

    def _span(self, cursor: int, args) -> tuple[np.ndarray, int, int]:
        """This rank's local+1 tokens of the micro-step starting at `cursor` → (span, start offset, next cursor)."""
        batch_tokens, seq_len, accum = args
        span = self._local(batch_tokens, seq_len, accum) + 1
        start = cursor + self.rank * span
        return self.data.read(start, span), start, cursor + span * self.world

    def _make(self, cursor: int, args):
        span, _, nxt = self._span(cursor, args)
        return split_xy(span, args[1]), nxt

    def next_batch(self, batch_tokens: int, seq_len: int, accum_per_rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._next(batch_tokens, seq_len, accum_per_rank)
        return self._to_device(x), self._to_device(y)

    def state(self) -> dict:
        i, pos = self.data.locate(self.cursor)
        return {"file_idx": i, "pos": pos}

    def load_state(self, state: dict) -> None:
        if state.get("kind", self.kind) != self.kind:
            raise PgolfError(f"loader state: saved by a {state.get('kind')!r} loader, this one is {self.kind!r}")
        i, pos = int(state["file_idx"]), int(state["pos"])
        if not 0 <= i < len(self.data.files) or not 0 <= pos <= self.data.starts[i + 1] - self.data.starts[i]:
            raise PgolfError(f"loader state: file_idx={i} pos={pos} is outside the {len(self.data.files)} train shards")
        self.cursor = int(self.data.starts[i]) + pos
