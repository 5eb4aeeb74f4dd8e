"""Read either kind of artifact file: a per-group container (pgolf.artifact.pergroup) or a single stream
(pgolf.artifact.pack.read_file), told apart by the codec byte after the b"PGA" magic.

Its own module so that a bundle whose config leaves per-group compression off ships pergroup as a stub
(pgolf.artifact.bundle_prune) and still reads single-stream artifacts.
"""

from __future__ import annotations

import time
from pathlib import Path

from torch import Tensor

from pgolf.artifact.pack import FILE_MAGIC, read_file
from pgolf.artifact.pergroup import FILE_ID, decode_pergroup
from pgolf.errors import PgolfError


def read_artifact(path: Path) -> tuple[dict[str, Tensor], dict, dict]:
    """(arrays, meta, info) of an artifact file of either kind."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise PgolfError(f"{path}: cannot read artifact ({e.strerror})") from None
    if len(head) < 4 or head[:3] != FILE_MAGIC or head[3] != FILE_ID:
        return read_file(path)
    data = path.read_bytes()
    t0 = time.perf_counter()
    arrays, meta = decode_pergroup(data[4:], str(path))
    return arrays, meta, {"codec": "pergroup", "file_bytes": len(data), "decompress_seconds": time.perf_counter() - t0,
                          "unpack_seconds": 0.0}
