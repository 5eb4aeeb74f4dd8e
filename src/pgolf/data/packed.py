"""BOS-aware document packing: the sequential stream plus `cu_seqlens` for document-isolated (varlen) attention.

Idea (PR #1530's DocumentPackingLoader, used by #1855; SPEC_FRONTIER.md §1.3 and §2.6): each rank takes exactly the
sequential loader's span (so tokens, world-size invariance and resume are those of loader.py), and the positions of
BOS in its x = span[:-1] become segment starts. A segment runs from one start to the next; a document longer than
`max_len` (default: train.seq_len) is cut into `max_len`-token segments from its start. `cu_seqlens` (int32) lists
the segment boundaries of the flattened x, 0 first and len(x) last, padded to a multiple of `bucket` (64) by
repeating len(x), so compiled varlen kernels see few distinct shapes (zero-length tail segments are harmless).

Interface: `next_batch(...) -> (x, y)` exactly like the sequential loader (so the trunk can ignore packing), and
`next_packed(...) -> PackedBatch(x, y, cu_seqlens, max_seqlen, num_segments)` for attention that uses it; both
advance the same stream. x.flatten() is the packed sequence that `cu_seqlens` indexes. State = sequential state.
Adds no parameters and no artifact bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pgolf.data.loader import DistributedTokenLoader, split_xy


@dataclass(frozen=True)
class PackedBatch:
    x: torch.Tensor  # (local/T, T) int64
    y: torch.Tensor  # (local/T, T) int64
    cu_seqlens: torch.Tensor  # (k·bucket,) int32: boundaries of x.flatten(), padded with len(x)
    max_seqlen: int
    num_segments: int  # real segments (before padding)


def segment_boundaries(x: np.ndarray, bos_id: int, max_len: int) -> np.ndarray:
    """Segment starts of a flat token array (0, every BOS, and every max_len within a document) plus len(x)."""
    n = x.size
    doc_starts = np.union1d([0], np.flatnonzero(x == bos_id)).astype(np.int64)
    ends = np.append(doc_starts[1:], n)
    if max_len > 0:
        pieces = [np.arange(s, e, max_len) for s, e in zip(doc_starts.tolist(), ends.tolist())]
        doc_starts = np.concatenate(pieces)
    return np.append(doc_starts, n)


def cu_seqlens_of(x: np.ndarray, bos_id: int, max_len: int, bucket: int) -> tuple[np.ndarray, int, int]:
    bounds = segment_boundaries(x, bos_id, max_len)
    nseg = bounds.size - 1
    padded = -(-bounds.size // bucket) * bucket if bucket > 0 else bounds.size
    cu = np.full(padded, x.size, dtype=np.int32)
    cu[: bounds.size] = bounds
    return cu, int(np.diff(bounds).max()) if nseg else 0, nseg


class PackedLoader(DistributedTokenLoader):
    kind = "packed"

    def __init__(self, data_dir: Path, rank: int, world: int, device: torch.device, vocab_size: int | None = None,
                 *, bos_id: int, max_len: int = 0, bucket: int = 64, prefetch: bool | None = None):
        self.bos_id, self.max_len, self.bucket = int(bos_id), int(max_len), int(bucket)
        super().__init__(data_dir, rank, world, device, vocab_size, prefetch=prefetch)

    def _make(self, cursor: int, args):
        span, _, nxt = self._span(cursor, args)
        seq_len = args[1]
        cu, mx, nseg = cu_seqlens_of(span[:-1], self.bos_id, self.max_len or seq_len, self.bucket)
        return (*split_xy(span, seq_len), torch.from_numpy(cu), mx, nseg), nxt

    def next_packed(self, batch_tokens: int, seq_len: int, accum_per_rank: int) -> PackedBatch:
        x, y, cu, mx, nseg = self._next(batch_tokens, seq_len, accum_per_rank)
        return PackedBatch(self._to_device(x), self._to_device(y), self._to_device(cu), mx, nseg)

    def next_batch(self, batch_tokens: int, seq_len: int, accum_per_rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.next_packed(batch_tokens, seq_len, accum_per_rank)
        return b.x, b.y

    def state(self) -> dict:
        return {"kind": self.kind, **super().state()}
