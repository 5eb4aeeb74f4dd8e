"""The sequential loader (data/loader.py, DistributedTokenLoader) on its own: each step's global batch holds the same
token spans at world sizes 1, 2 and 4 (the order of micro-batches differs by design). test_data_loaders.py checks
the documented order exactly, for every loader kind."""

from __future__ import annotations

import numpy as np
import torch

from pgolf.data.loader import DistributedTokenLoader
from pgolf.data.shards import write_shard


def test_global_batch_identical_across_world_sizes(tmp_path):
    write_shard(tmp_path / "fineweb_train_000000.bin", np.arange(3000, dtype=np.uint16) % 1000)
    write_shard(tmp_path / "fineweb_train_000001.bin", (np.arange(2000, dtype=np.uint16) * 7) % 1000)
    T, batch, total_accum = 16, 256, 4

    def global_batches(world: int, steps: int = 5):
        loaders = [DistributedTokenLoader(tmp_path, r, world, torch.device("cpu")) for r in range(world)]
        out = []
        for _ in range(steps):
            xs = []
            for _ in range(total_accum // world):
                xs.append(torch.cat([ld.next_batch(batch, T, total_accum // world)[0] for ld in loaders]))
            out.append(torch.cat(xs).sort(dim=0).values)
        return out

    ref = global_batches(1)
    for w in (2, 4):
        got = global_batches(w)
        # same set of token spans per step (order of micro-batches differs by design)
        for a, b in zip(ref, got):
            assert a.shape == b.shape
            assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, b.tolist()))
