"""sha256 of a data file, read in 4 MiB blocks: what manifests record (build, proxy corpus, downloads, verify).

Its own module at the bottom of pgolf.data so that the hub, the corpus, the builder and `data verify` share it
without importing one another.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
