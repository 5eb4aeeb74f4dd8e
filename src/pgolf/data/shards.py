"""The challenge's binary shard format (SPEC_SEEDS.md §4.4): read, validate, write atomically.

A shard is 256 little-endian int32 (1,024 bytes; [0] = magic 20240520, [1] = version 1, [2] = num_tokens, the rest
zero) followed by num_tokens little-endian uint16 token ids. The file size must be exactly 1024 + 2·num_tokens.
Names: fineweb_{train,val}_{index:06d}.bin. Readers memory-map the body; every problem is a one-line PgolfError that
names the file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from pgolf.errors import PgolfError

MAGIC = 20240520
VERSION = 1
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4


def read_header(path: Path) -> int:
    """Validate the header and the file size; return num_tokens."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(HEADER_BYTES)
    except OSError as e:
        raise PgolfError(f"{path}: cannot read shard ({e.strerror})") from None
    if len(raw) < HEADER_BYTES:
        raise PgolfError(f"{path}: truncated shard header ({len(raw)} of {HEADER_BYTES} bytes)")
    header = np.frombuffer(raw, dtype="<i4")
    if int(header[0]) != MAGIC:
        raise PgolfError(f"{path}: bad magic {int(header[0])}, expected {MAGIC}")
    if int(header[1]) != VERSION:
        raise PgolfError(f"{path}: unsupported shard version {int(header[1])}, expected {VERSION}")
    n = int(header[2])
    if n < 0:
        raise PgolfError(f"{path}: negative token count {n} in header")
    expected = HEADER_BYTES + 2 * n
    if size != expected:
        raise PgolfError(f"{path}: size {size} bytes, expected {expected} (1024 + 2 × {n} tokens)")
    return n


def read_shard(path: Path, vocab_size: int | None = None) -> np.ndarray:
    """Memory-mapped uint16 token ids of one shard (validated; ids checked against vocab_size when given)."""
    n = read_header(path)
    toks = np.memmap(path, dtype="<u2", mode="r", offset=HEADER_BYTES, shape=(n,)) if n else np.zeros(0, np.uint16)
    if vocab_size is not None and n:
        mx = int(toks.max())
        if mx >= vocab_size:
            pos = int(np.argmax(toks >= vocab_size))
            raise PgolfError(f"{path}: token id {mx} ≥ vocab size {vocab_size} (first at position {pos})")
    return toks


def header_bytes(num_tokens: int) -> bytes:
    """The 1,024-byte header of a shard holding `num_tokens` tokens."""
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0], header[1], header[2] = MAGIC, VERSION, num_tokens
    return header.tobytes()


def write_shard(path: Path, tokens: np.ndarray) -> None:
    """Write a shard atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    tokens = np.asarray(tokens)
    if tokens.size and (tokens.min() < 0 or tokens.max() > 65535):
        raise PgolfError(f"{path}: token ids must fit in uint16")
    if tokens.size >= 2**31:
        raise PgolfError(f"{path}: {tokens.size} tokens do not fit the int32 header count")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header_bytes(tokens.size))
            f.write(tokens.astype("<u2", copy=False).tobytes())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; shards are ordinary data files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shard_files(data_dir: Path, split: str) -> list[Path]:
    """Sorted `fineweb_{split}_NNNNNN.bin` files (never the `fineweb_val_bytes_*` sidecar); a missing or empty
    directory is a PgolfError."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PgolfError(f"{data_dir}: data directory does not exist")
    files = sorted(p for p in data_dir.glob(f"fineweb_{split}_*.bin") if p.name[len(f"fineweb_{split}_"):-4].isdigit())
    if not files:
        raise PgolfError(f"{data_dir}: no fineweb_{split}_*.bin shards found")
    return files


def load_split(data_dir: Path, split: str, vocab_size: int | None = None) -> np.ndarray:
    """All shards of a split concatenated in sorted order (copied into memory)."""
    parts = [np.asarray(read_shard(p, vocab_size)) for p in shard_files(data_dir, split)]
    return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])
