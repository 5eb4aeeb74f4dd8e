"""The challenge's sequential token stream and its per-rank, gradient-accumulated batches (SPEC_SEEDS.md §1.1).

Train shards are read in sorted order and wrap around forever. Each micro-step takes world·(local+1) contiguous
tokens; rank r gets the r-th span of local+1 tokens, x = span[:-1], y = span[1:], shaped (local/T, T), with
local = batch_tokens / (world·accum_per_rank). The stream's position is its whole state (`state()`/`load_state()`),
so a run can be resumed exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pgolf.data.shards import read_header, read_shard, shard_files
from pgolf.errors import PgolfError


class TokenStream:
    """Sequential reader over sorted shards, wrapping around; position = (file index, offset)."""

    def __init__(self, files: list[Path], vocab_size: int | None = None):
        self.files = list(files)
        self.vocab_size = vocab_size
        self.file_idx = 0
        self.pos = 0
        if sum(read_header(p) for p in self.files) == 0:
            raise PgolfError(f"{self.files[0].parent}: the train shards hold no tokens")
        self._tokens = read_shard(self.files[0], vocab_size)

    def _open(self, idx: int) -> None:
        self.file_idx = idx
        self._tokens = read_shard(self.files[idx], self.vocab_size)
        self.pos = 0

    def take(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.uint16)
        filled = 0
        while filled < n:
            avail = self._tokens.size - self.pos
            if avail <= 0:
                self._open((self.file_idx + 1) % len(self.files))
                continue
            k = min(n - filled, avail)
            out[filled : filled + k] = self._tokens[self.pos : self.pos + k]
            self.pos += k
            filled += k
        return out

    def state(self) -> dict:
        return {"file_idx": self.file_idx, "pos": self.pos}

    def load_state(self, state: dict) -> None:
        if state["file_idx"] != self.file_idx:
            self._open(int(state["file_idx"]))
        self.pos = int(state["pos"])


class DistributedTokenLoader:
    """Yields (x, y) micro-batches for one rank of `world`; every rank advances the shared stream identically."""

    def __init__(self, data_dir: Path, rank: int, world: int, device: torch.device, vocab_size: int | None = None):
        self.rank, self.world, self.device = rank, world, device
        self.stream = TokenStream(shard_files(data_dir, "train"), vocab_size)

    def next_batch(self, batch_tokens: int, seq_len: int, accum_per_rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        local = batch_tokens // (self.world * accum_per_rank)
        span = local + 1
        chunk = self.stream.take(span * self.world)
        mine = torch.from_numpy(chunk[self.rank * span : (self.rank + 1) * span].astype(np.int64))
        x = mine[:-1].reshape(-1, seq_len)
        y = mine[1:].reshape(-1, seq_len)
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True), y.pin_memory().to(self.device, non_blocking=True)
        return x, y

    def state(self) -> dict:
        return self.stream.state()

    def load_state(self, state: dict) -> None:
        self.stream.load_state(state)
