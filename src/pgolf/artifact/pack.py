"""pgolf's own artifact format: named arrays + JSON metadata, no pickle, deterministic bytes, exact inverse.

Inner payload (before compression):
    b"PGPK" | u8 version | u32 LE header length | header JSON (sorted keys) | array bytes
    header = {"meta": {...}, "arrays": [[name, dtype, shape, offset, nbytes], ...]}
File: b"PGA" | u8 codec id | compressed payload.

Loading parses JSON and raw little-endian buffers only, so an artifact from a stranger cannot execute code; every
offset, size and dtype is checked and a bad file is a one-line PgolfError.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import time
from pathlib import Path

import torch
from torch import Tensor

from pgolf.artifact.codecs import CODEC_IDS, CODEC_NAMES, compress_best, decompress
from pgolf.errors import PgolfError

INNER_MAGIC = b"PGPK"
FILE_MAGIC = b"PGA"
VERSION = 1
DTYPES = {
    "bool": torch.bool, "int8": torch.int8, "uint8": torch.uint8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64, "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
}
_NAMES = {v: k for k, v in DTYPES.items()}


def pack(arrays: dict[str, Tensor], meta: dict) -> bytes:
    entries, chunks, off = [], [], 0
    for name in sorted(arrays):
        t = arrays[name].detach().cpu().contiguous()
        if t.dtype not in _NAMES:
            raise ValueError(f"{name}: dtype {t.dtype} cannot be stored")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""  # 0-dim: flatten first
        entries.append([name, _NAMES[t.dtype], list(t.shape), off, len(raw)])
        chunks.append(raw)
        off += len(raw)
    header = json.dumps({"meta": meta, "arrays": entries}, sort_keys=True, separators=(",", ":")).encode()
    return INNER_MAGIC + struct.pack("<BI", VERSION, len(header)) + header + b"".join(chunks)


def unpack(data: bytes, source: str = "artifact") -> tuple[dict[str, Tensor], dict]:
    def bad(msg: str) -> PgolfError:
        return PgolfError(f"{source}: {msg}")

    if len(data) < 9 or data[:4] != INNER_MAGIC:
        raise bad("not a pgolf payload (bad magic)")
    version, hlen = struct.unpack_from("<BI", data, 4)
    if version != VERSION:
        raise bad(f"payload version {version}, expected {VERSION}")
    if 9 + hlen > len(data):
        raise bad("truncated header")
    try:
        header = json.loads(data[9 : 9 + hlen].decode("utf-8"))
        entries, meta = header["arrays"], header["meta"]
    except (ValueError, KeyError, TypeError):
        raise bad("corrupt header JSON") from None
    body = memoryview(data)[9 + hlen :]
    arrays: dict[str, Tensor] = {}
    for e in entries:
        try:
            name, dt, shape, off, nbytes = e
            dtype = DTYPES[dt]
            numel = math.prod(shape)
        except (ValueError, KeyError, TypeError):
            raise bad(f"corrupt array entry {e!r}") from None
        if name in arrays:
            raise bad(f"duplicate array {name}")
        if nbytes != numel * torch.empty(0, dtype=dtype).element_size() or off < 0 or off + nbytes > len(body):
            raise bad(f"array {name}: size/offset out of bounds (truncated?)")
        buf = bytearray(body[off : off + nbytes])
        t = torch.frombuffer(buf, dtype=dtype) if nbytes else torch.empty(0, dtype=dtype)
        arrays[name] = t.reshape(shape)
    return arrays, meta


def write_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode_file(arrays: dict[str, Tensor], meta: dict, codec: str, level: int | None = None) -> tuple[bytes, str]:
    """→ (file bytes, codec used)."""
    used, blob = compress_best(pack(arrays, meta), codec, level)
    return FILE_MAGIC + bytes([CODEC_IDS[used]]) + blob, used


def read_file(path: Path) -> tuple[dict[str, Tensor], dict, dict]:
    """→ (arrays, meta, info) where info has codec, file_bytes, decompress_seconds."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PgolfError(f"{path}: cannot read artifact ({e.strerror})") from None
    if len(data) < 4 or data[:3] != FILE_MAGIC:
        raise PgolfError(f"{path}: not a pgolf artifact (bad magic; pickled or foreign files are refused)")
    codec = CODEC_NAMES.get(data[3])
    if codec is None:
        raise PgolfError(f"{path}: unknown codec id {data[3]}")
    t0 = time.perf_counter()
    try:
        raw = decompress(data[4:], codec)
    except PgolfError as e:
        raise PgolfError(f"{path}: {e}") from None
    dt = time.perf_counter() - t0
    arrays, meta = unpack(raw, str(path))
    return arrays, meta, {"codec": codec, "file_bytes": len(data), "decompress_seconds": dt}
