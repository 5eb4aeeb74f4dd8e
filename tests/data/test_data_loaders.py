"""Loaders: world-size invariance, exact resume, prefetch transparency, shuffled coverage, packed cu_seqlens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgolf.data.loader import DistributedTokenLoader
from pgolf.data.packed import PackedLoader, segment_boundaries
from pgolf.data.shards import write_shard
from pgolf.data.shuffled import ShuffledLoader
from pgolf.data.train_loader import build_loader
from pgolf.errors import PgolfError

CPU = torch.device("cpu")
T, BATCH, ACCUM = 16, 256, 4  # 4 micro-batches per step of 64 tokens (4 sequences) in total


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three shards of documents [BOS=1] + random ids in [2, 500), lengths 1..60 tokens."""
    d = tmp_path_factory.mktemp("loader_data")
    rng = np.random.default_rng(0)
    for i, n_docs in enumerate((40, 25, 33)):
        docs = [np.concatenate([[1], rng.integers(2, 500, rng.integers(1, 60))]) for _ in range(n_docs)]
        write_shard(d / f"fineweb_train_{i:06d}.bin", np.concatenate(docs).astype(np.uint16))
    write_shard(d / "fineweb_val_000000.bin", np.array([1, 5, 6], dtype=np.uint16))
    return d


def make(kind, d, rank, world, prefetch=False, seed=7):
    if kind == "sequential":
        return DistributedTokenLoader(d, rank, world, CPU, 512, prefetch=prefetch)
    if kind == "shuffled":
        return ShuffledLoader(d, rank, world, CPU, 512, seed=seed, prefetch=prefetch)
    return PackedLoader(d, rank, world, CPU, 512, bos_id=1, prefetch=prefetch)


def global_steps(kind, d, world, steps=12, prefetch=False):
    """Per step: the global batch with micro-batch (m, r) placed at index m·world + r (the documented order)."""
    loaders = [make(kind, d, r, world, prefetch) for r in range(world)]
    accum = ACCUM // world
    out = []
    for _ in range(steps):
        parts = {}
        for m in range(accum):
            for r, ld in enumerate(loaders):
                parts[m * world + r] = ld.next_batch(BATCH, T, accum)
        out.append((torch.cat([parts[i][0] for i in sorted(parts)]), torch.cat([parts[i][1] for i in sorted(parts)])))
    return out


@pytest.mark.parametrize("kind", ["sequential", "shuffled", "packed"])
def test_global_batch_identical_across_world_sizes(data, kind):
    ref = global_steps(kind, data, 1)
    assert ref[0][0].shape == (BATCH // T, T)
    for world in (2, 4):
        got = global_steps(kind, data, world)
        for (x0, y0), (x1, y1) in zip(ref, got):
            assert torch.equal(x0, x1) and torch.equal(y0, y1)


@pytest.mark.parametrize("kind", ["sequential", "shuffled", "packed"])
def test_targets_are_inputs_shifted_by_one_in_the_data(data, kind):
    stream = np.concatenate([np.fromfile(data / f"fineweb_train_{i:06d}.bin", "<u2", offset=1024) for i in range(3)])
    ld = make(kind, data, 0, 1)
    for _ in range(30):  # wraps around the 5k-token data
        x, y = ld.next_batch(BATCH, T, ACCUM)
        for row_x, row_y in zip(x.tolist(), y.tolist()):
            assert row_x[1:] == row_y[:-1]
            window = np.array(row_x + row_y[-1:])
            starts = np.flatnonzero(np.lib.stride_tricks.sliding_window_view(np.concatenate([stream, stream]),
                                                                               T + 1).__eq__(window).all(1))
            assert starts.size  # every row is a real window of the (wrapped) stream


@pytest.mark.parametrize("kind", ["sequential", "shuffled", "packed"])
def test_resume_gives_the_same_next_batches(data, kind):
    a = make(kind, data, 1, 2, prefetch=True)
    for _ in range(7):
        a.next_batch(BATCH, T, 2)
    saved = a.state()
    import json

    saved = json.loads(json.dumps(saved))  # what a checkpoint stores
    expect = [a.next_batch(BATCH, T, 2) for _ in range(9)]
    b = make(kind, data, 1, 2, prefetch=True)
    b.next_batch(BATCH, T, 2)  # a different position (and a pending prefetch) before loading
    b.load_state(saved)
    for x, y in expect:
        x2, y2 = b.next_batch(BATCH, T, 2)
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert a.state() == b.state()


@pytest.mark.parametrize("kind", ["sequential", "shuffled", "packed"])
def test_prefetch_changes_nothing(data, kind):
    ref = global_steps(kind, data, 2, steps=8, prefetch=False)
    got = global_steps(kind, data, 2, steps=8, prefetch=True)
    for (x0, y0), (x1, y1) in zip(ref, got):
        assert torch.equal(x0, x1) and torch.equal(y0, y1)


def test_sequential_state_format_is_file_and_position(data):
    ld = DistributedTokenLoader(data, 0, 1, CPU, 512, prefetch=False)
    assert ld.state() == {"file_idx": 0, "pos": 0}
    n0 = np.fromfile(data / "fineweb_train_000000.bin", "<i4", count=3)[2]
    ld.next_batch(BATCH, T, ACCUM)  # 64 + 1 tokens
    assert ld.state() == {"file_idx": 0, "pos": 65}
    ld.load_state({"file_idx": 1, "pos": 3})
    x, _ = ld.next_batch(BATCH, T, ACCUM)
    body = np.fromfile(data / "fineweb_train_000001.bin", "<u2", offset=1024)
    assert x.flatten().tolist() == body[3 : 3 + 64].tolist() and n0 > 0
    with pytest.raises(PgolfError, match="outside the 3 train shards"):
        ld.load_state({"file_idx": 9, "pos": 0})
    with pytest.raises(PgolfError, match="saved by a 'shuffled' loader"):
        ld.load_state(ShuffledLoader(data, 0, 1, CPU, 512, prefetch=False).state())


def test_shuffled_is_deterministic_by_seed_and_covers_each_epoch(data):
    ld = ShuffledLoader(data, 0, 1, CPU, 512, seed=3, prefetch=False)
    phase, n, _, _ = ld.plan(0, T)
    starts, nxt = ld.starts(0, 0, n, T)
    assert sorted(starts.tolist()) == (phase + T * np.arange(n)).tolist()  # every window exactly once
    assert nxt == (1, 0)
    assert starts.tolist() != sorted(starts.tolist())  # and not in stream order
    other = ShuffledLoader(data, 0, 1, CPU, 512, seed=4, prefetch=False)
    assert other.starts(0, 0, n, T)[0].tolist() != starts.tolist()
    again = ShuffledLoader(data, 0, 1, CPU, 512, seed=3, prefetch=False)
    assert again.starts(0, 0, n, T)[0].tolist() == starts.tolist()
    # a batch that crosses the epoch boundary takes the rest of epoch 0, then epoch 1's first windows
    s2, _ = ld.starts(0, n - 2, 5, T)
    assert s2[:2].tolist() == starts[-2:].tolist() and s2[2:].tolist() == ld.starts(1, 0, 3, T)[0].tolist()


def naive_boundaries(x: list[int], bos: int, max_len: int) -> list[int]:
    out, seg_start = [0], 0
    for i in range(1, len(x) + 1):
        if i == len(x) or x[i] == bos or i - seg_start == max_len:
            out.append(i)
            seg_start = i
    return out


def test_packed_cu_seqlens_at_bos_boundaries(data):
    rng = np.random.default_rng(1)
    for _ in range(50):
        x = rng.integers(0, 6, rng.integers(1, 200))
        for max_len in (3, 16, 1000):
            assert segment_boundaries(x, 1, max_len).tolist() == naive_boundaries(x.tolist(), 1, max_len)
    ld = PackedLoader(data, 1, 2, CPU, 512, bos_id=1, bucket=8, prefetch=False)
    for _ in range(20):
        b = ld.next_packed(BATCH, T, 2)
        flat = b.x.flatten().tolist()
        want = naive_boundaries(flat, 1, T)
        cu = b.cu_seqlens.tolist()
        assert b.cu_seqlens.dtype == torch.int32 and len(cu) % 8 == 0
        assert cu[: len(want)] == want and all(c == len(flat) for c in cu[len(want) :])
        assert b.num_segments == len(want) - 1 and b.max_seqlen == max(np.diff(want)) <= T
        for s in want[1:-1]:  # every segment start is a BOS or a max_len cut
            assert flat[s] == 1 or s - max(w for w in want if w < s) == T


def test_loader_refuses_ids_beyond_vocab_naming_the_shard(tmp_path):
    write_shard(tmp_path / "fineweb_train_000000.bin", np.array([1, 2, 3] * 40 + [900] + [4] * 100, np.uint16))
    ld = DistributedTokenLoader(tmp_path, 0, 1, CPU, 512, prefetch=False)
    with pytest.raises(PgolfError, match=r"fineweb_train_000000.bin: token id 900 ≥ vocab size 512 \(first at position 120\)"):
        for _ in range(5):
            ld.next_batch(64, 16, 1)


def test_build_loader_follows_the_config(tiny_cfg):
    from pgolf.config import override
    from pgolf.runtime.dist import init_runtime

    rt = init_runtime("cpu")
    for kind, cls in (("sequential", DistributedTokenLoader), ("shuffled", ShuffledLoader), ("packed", PackedLoader)):
        c = override(tiny_cfg, {"data.loader": kind})
        ld = build_loader(c.data, c.model.vocab_size, c.train.seed, rt, bos_id=c.model.bos_id, prefetch=False)
        assert type(ld) is cls and kind in ld.describe()
    with pytest.raises(PgolfError, match="data.loader"):
        override(tiny_cfg, {"data.loader": "random"})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ["sequential", "shuffled", "packed"])
def test_cuda_batches_equal_cpu_batches(data, kind):
    """Pinned prefetch + non_blocking H2D copies deliver exactly the CPU batches."""
    cpu = make(kind, data, 1, 2, prefetch=False)
    cuda = {"sequential": DistributedTokenLoader, "shuffled": ShuffledLoader, "packed": PackedLoader}[kind]
    kw = {"seed": 7} if kind == "shuffled" else {}
    gpu = cuda(data, 1, 2, torch.device("cuda"), 512, prefetch=True, **kw)
    for _ in range(10):
        (x0, y0), (x1, y1) = cpu.next_batch(BATCH, T, 2), gpu.next_batch(BATCH, T, 2)
        assert x1.is_cuda and torch.equal(x0, x1.cpu()) and torch.equal(y0, y1.cpu())
    if kind == "packed":
        b0, b1 = cpu.next_packed(BATCH, T, 2), gpu.next_packed(BATCH, T, 2)
        assert b1.cu_seqlens.is_cuda and torch.equal(b0.cu_seqlens, b1.cu_seqlens.cpu())


def test_gather_equals_windows_of_the_wrapped_stream(data):
    """ShardSet.gather (vectorised per shard) against slicing the concatenated stream, straddles and wraps included."""
    from pgolf.data.loader import ShardSet
    from pgolf.data.shards import shard_files

    ss = ShardSet(shard_files(data, "train"), 512)
    stream = np.concatenate([np.fromfile(p, "<u2", offset=1024) for p in ss.files])
    twice = np.concatenate([stream, stream])
    starts = np.concatenate([np.random.default_rng(2).integers(0, 3 * stream.size, 300),
                             ss.starts[1:3] - 5, [stream.size - 3]])  # across both shard boundaries, and the end
    got = ss.gather(starts, 17)
    assert np.array_equal(got, np.stack([twice[s % stream.size : s % stream.size + 17] for s in starts]))


@pytest.mark.parametrize("kind", ["sequential", "shuffled", "packed"])
def test_x_and_y_do_not_alias(data, kind):
    x, y = make(kind, data, 0, 1).next_batch(BATCH, T, ACCUM)
    before = x.clone()
    y.fill_(-100)  # e.g. masking targets in place must not touch the inputs
    assert torch.equal(x, before)
