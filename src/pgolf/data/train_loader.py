"""The train loader a run uses, picked by `data.loader`: the challenge's sequential stream (pgolf.data.loader),
seeded shuffled windows (pgolf.data.shuffled) or the stream with BOS cu_seqlens (pgolf.data.packed).

Its own module above the three loaders so that none of them imports another's chooser (packed and shuffled build
on loader.py's classes).
"""

from __future__ import annotations

from pathlib import Path

from pgolf.data.config import DataConfig
from pgolf.data.loader import DistributedTokenLoader
from pgolf.data.packed import PackedLoader
from pgolf.data.shuffled import ShuffledLoader
from pgolf.errors import PgolfError


def build_loader(data: DataConfig, vocab_size: int, seed: int, rt, *, bos_id: int, prefetch: bool | None = None):
    """The train loader named by `data.loader` for this rank (shuffled: seeded by `seed`, the run's train.seed;
    packed: documents start at `bos_id`, the model's cfg.bos_id)."""
    path, kind = Path(data.path), data.loader
    if kind == "sequential":
        return DistributedTokenLoader(path, rt.rank, rt.world_size, rt.device, vocab_size, prefetch=prefetch)
    if kind == "shuffled":
        return ShuffledLoader(path, rt.rank, rt.world_size, rt.device, vocab_size, seed=seed, prefetch=prefetch)
    if kind == "packed":
        return PackedLoader(path, rt.rank, rt.world_size, rt.device, vocab_size, bos_id=bos_id, prefetch=prefetch)
    raise PgolfError(f"data.loader: expected 'sequential', 'shuffled' or 'packed', got {kind!r}")
