"""The artifact container (artifact/pack.py): pack/unpack is an exact inverse for every dtype, with metadata, and
deterministic."""

from __future__ import annotations

import torch

from pgolf.artifact.pack import pack, unpack


def test_pack_unpack_exact_all_dtypes():
    arrays = {"a": torch.randn(3, 5), "b": torch.randint(-128, 127, (7,), dtype=torch.int8),
              "c": torch.randn(4).to(torch.bfloat16), "d": torch.randn(2, 2).half(), "e": torch.tensor([True, False]),
              "f": torch.arange(6, dtype=torch.int64).view(2, 3), "empty": torch.zeros(0, 3)}
    blob = pack(arrays, {"k": [1, "x"]})
    got, meta = unpack(blob)
    assert meta == {"k": [1, "x"]} and set(got) == set(arrays)
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k
    assert pack(arrays, {"k": [1, "x"]}) == blob  # deterministic
