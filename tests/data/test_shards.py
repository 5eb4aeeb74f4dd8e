"""Shards (data/shards.py): the challenge's header format round trip, bad shards named with their problem, ids out of
vocabulary, missing and empty directories, split loading in sorted order."""

from __future__ import annotations

import numpy as np
import pytest

from pgolf.data.shards import HEADER_BYTES, load_split, read_header, read_shard, shard_files, write_shard
from pgolf.errors import PgolfError


def test_write_read_round_trip(tmp_path):
    toks = np.random.default_rng(0).integers(0, 1024, 5000).astype(np.uint16)
    write_shard(tmp_path / "fineweb_val_000000.bin", toks)
    raw = (tmp_path / "fineweb_val_000000.bin").read_bytes()
    header = np.frombuffer(raw[:HEADER_BYTES], "<i4")
    assert header[0] == 20240520 and header[1] == 1 and header[2] == 5000 and not header[3:].any()
    assert len(raw) == 1024 + 2 * 5000
    assert np.array_equal(read_shard(tmp_path / "fineweb_val_000000.bin", 1024), toks)
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left


def _bad(tmp_path, name, mutate):
    p = tmp_path / name
    write_shard(p, np.arange(100, dtype=np.uint16))
    data = bytearray(p.read_bytes())
    p.write_bytes(bytes(mutate(data)))
    return p


@pytest.mark.parametrize("mutate,msg", [
    (lambda d: d[:500], "truncated shard header"),
    (lambda d: d[:-2], "size 1222 bytes, expected 1224"),
    (lambda d: d + b"xx", "size 1226 bytes, expected 1224"),
    (lambda d: d.__setitem__(slice(0, 4), (1234).to_bytes(4, "little")) or d, "bad magic 1234"),
    (lambda d: d.__setitem__(slice(4, 8), (2).to_bytes(4, "little")) or d, "unsupported shard version 2"),
])
def test_bad_shards_name_file_and_problem(tmp_path, mutate, msg):
    p = _bad(tmp_path, "fineweb_val_000000.bin", mutate)
    with pytest.raises(PgolfError) as e:
        read_header(p)
    assert str(p) in str(e.value) and msg in str(e.value)


def test_ids_out_of_vocab(tmp_path):
    write_shard(tmp_path / "fineweb_val_000000.bin", np.array([1, 5, 700, 3], dtype=np.uint16))
    with pytest.raises(PgolfError, match="token id 700 ≥ vocab size 512"):
        read_shard(tmp_path / "fineweb_val_000000.bin", 512)


def test_missing_and_empty_dirs(tmp_path):
    with pytest.raises(PgolfError, match="does not exist"):
        shard_files(tmp_path / "nope", "val")
    with pytest.raises(PgolfError, match="no fineweb_val_"):
        shard_files(tmp_path, "val")


def test_load_split_concatenates_sorted(tmp_path):
    write_shard(tmp_path / "fineweb_train_000001.bin", np.array([4, 5], dtype=np.uint16))
    write_shard(tmp_path / "fineweb_train_000000.bin", np.array([1, 2, 3], dtype=np.uint16))
    assert load_split(tmp_path, "train").tolist() == [1, 2, 3, 4, 5]
