"""Storage layouts (artifact/storage.py) through the container: exact inverses, deterministic bytes, corrupt input
refused with one line. The rANS coder itself is tested in test_rans.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgolf.artifact.pack import pack, unpack
from pgolf.artifact.storage import pack_bits, shuffle, unpack_bits, unshuffle, unzigzag, zigzag
from pgolf.errors import PgolfError


def arrays(seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {"f32": torch.randn(7, 5, generator=g), "f16": torch.randn(33, generator=g).half(),
           "bf16": torch.randn(4, 4, generator=g).bfloat16(), "scalar": torch.tensor(0.05).half(),
           "i64": torch.arange(6).view(2, 3), "b": torch.tensor([True, False]), "empty": torch.zeros(0, 3),
           "q_empty": torch.zeros(0, dtype=torch.int8), "q_const": torch.full((5, 5), 3, dtype=torch.int8)}
    bits = {"q_empty": 4, "q_const": 3}
    for b in range(2, 9):
        half = 1 << (b - 1)
        v = torch.clamp(torch.round(torch.randn(17, 29, generator=g) * half / 2), -half, half - 1).to(torch.int8)
        out[f"q{b}"], bits[f"q{b}"] = v, b
    return out, bits


@pytest.mark.parametrize("storage", ["int8", "packed", "rans", "zigzag_t"])
def test_pack_round_trip_exact_and_deterministic(storage):
    a, bits = arrays()
    blob = pack(a, {"k": 1}, storage, bits)
    assert blob == pack(dict(reversed(list(a.items()))), {"k": 1}, storage, bits)
    got, meta = unpack(blob)
    assert meta == {"k": 1} and set(got) == set(a)
    for k, v in a.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape and torch.equal(got[k], v), k


def test_bit_packing_and_shuffle_inverses():
    rng = np.random.default_rng(0)
    for b in range(2, 8):
        v = rng.integers(-(1 << (b - 1)), 1 << (b - 1), size=101).astype(np.int8)
        raw = pack_bits(v, b)
        assert len(raw) == -(-101 * b // 8) and np.array_equal(unpack_bits(raw, b, 101), v)
    with pytest.raises(ValueError, match="outside"):
        pack_bits(np.array([4], np.int8), 3)
    raw = rng.integers(0, 256, 40).astype(np.uint8).tobytes()
    assert unshuffle(shuffle(raw, 4), 4) == raw and shuffle(raw, 4) != raw


def test_zigzag_t_holds_each_matrix_column_major_as_zigzag_bytes():
    a, bits = arrays()
    v = torch.arange(-128, 128, dtype=torch.int8)
    naive = bytes(2 * x if x >= 0 else -2 * x - 1 for x in v.tolist())  # 0,-1,1,-2,… → 0,1,2,3,…
    assert zigzag(v.numpy()).tobytes() == naive and sorted(naive) == list(range(256))
    assert torch.equal(torch.from_numpy(unzigzag(np.frombuffer(naive, np.uint8))), v)
    q = a["q6"]
    blob = pack({"q6": q}, {}, "zigzag_t", bits)
    col_major = bytes(2 * x if x >= 0 else -2 * x - 1 for x in q.T.reshape(-1).tolist())
    assert blob.endswith(col_major)
    assert torch.equal(unpack(blob)[0]["q6"], q)


@pytest.mark.parametrize("storage", ["packed", "rans", "zigzag_t"])
def test_truncated_or_corrupt_payloads_are_one_line_errors(storage):
    a, bits = arrays()
    blob = pack(a, {}, storage, bits)
    for bad in (blob[: len(blob) - 3], blob[: len(blob) // 2]):
        with pytest.raises(PgolfError) as e:
            unpack(bad)
        assert "\n" not in str(e.value)
