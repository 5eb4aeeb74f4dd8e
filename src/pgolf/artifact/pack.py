"""pgolf's own artifact format: named arrays + JSON metadata, no pickle, deterministic bytes, exact inverse.

Inner payload (before compression):
    b"PGPK" | u8 version | u32 LE header length | header JSON (sorted keys) | array bytes
    header = {"meta": {...}, "arrays": [[name, dtype, shape, offset, nbytes, encoding], ...], "rans": [off, n]}
File: b"PGA" | u8 codec id | compressed payload.
Encodings (pgolf.artifact.storage): raw, shuffle, bitsN, rans, zz / zzT (zigzag bytes, zzT of the transpose) (the array's bytes hold its histogram; the values are
in the one rANS stream at header["rans"]). Arrays are laid out grouped by encoding and dtype, then by name.

Loading parses JSON and raw little-endian buffers only, so an artifact from a stranger cannot execute code; every
offset, size, dtype and encoding is checked and a bad file is a one-line PgolfError.
"""

from __future__ import annotations

import json
import math
import struct
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgolf.artifact import storage as st
from pgolf.artifact.codecs import CODEC_IDS, CODEC_NAMES, compress_best, decompress
from pgolf.errors import PgolfError
from pgolf.runtime.atomic_write import write_atomic  # noqa: F401  (re-exported: callers import it from here)

INNER_MAGIC = b"PGPK"
FILE_MAGIC = b"PGA"
VERSION = 2
DTYPES = {
    "bool": torch.bool, "int8": torch.int8, "uint8": torch.uint8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64, "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
}
_NAMES = {v: k for k, v in DTYPES.items()}
_FLOATS = (torch.float16, torch.bfloat16, torch.float32)


def _encoding(t: Tensor, name: str, storage: str, int_bits: dict[str, int]) -> str:
    if storage == "int8":
        return "raw"
    if t.dtype in _FLOATS:
        return "shuffle"
    if t.dtype == torch.int8 and name in int_bits:
        if storage == "zigzag_t":
            return "zzT" if t.ndim == 2 else "zz"
        if storage == "rans":
            return "rans"
        return f"bits{int_bits[name]}" if int_bits[name] < 8 else "raw"
    return "raw"


def pack(arrays: dict[str, Tensor], meta: dict, storage: str = "int8", int_bits: dict[str, int] | None = None) -> bytes:
    """`int_bits` names the int8 arrays that hold N-bit quantized values (packed/rans storage use it)."""
    if storage not in st.STORAGES:
        raise PgolfError(f"artifact.storage: unknown storage {storage!r}, expected one of {list(st.STORAGES)}")
    int_bits = int_bits or {}
    cpu = {k: v.detach().cpu().contiguous() for k, v in arrays.items()}
    enc = {k: _encoding(t, k, storage, int_bits) for k, t in cpu.items()}
    entries, chunks, off = [], [], 0
    stream = st.RansStream()
    for name in sorted(cpu, key=lambda k: (enc[k], _NAMES.get(cpu[k].dtype, ""), k)):
        t = cpu[name]
        if t.dtype not in _NAMES:
            raise ValueError(f"{name}: dtype {t.dtype} cannot be stored")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""  # 0-dim: flatten first
        e = enc[name]
        if e == "shuffle":
            raw = st.shuffle(raw, t.element_size())
        elif e in ("zz", "zzT"):
            raw = st.zigzag((t.T if e == "zzT" else t).contiguous().numpy().reshape(-1)).tobytes()
        elif e.startswith("bits"):
            raw = st.pack_bits(t.numpy().reshape(-1), int(e[4:]))
        elif e == "rans":
            raw = stream.add(t.numpy())
        entries.append([name, _NAMES[t.dtype], list(t.shape), off, len(raw), e])
        chunks.append(raw)
        off += len(raw)
    rans_blob = stream.finish()
    header = {"meta": meta, "arrays": entries}
    if rans_blob:
        header["rans"] = [off, len(rans_blob)]
        chunks.append(rans_blob)
    hbytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return INNER_MAGIC + struct.pack("<BI", VERSION, len(hbytes)) + hbytes + b"".join(chunks)


def unpack(data: bytes, source: str = "artifact") -> tuple[dict[str, Tensor], dict]:
    def bad(msg: str) -> PgolfError:
        return PgolfError(f"{source}: {msg}")

    if len(data) < 9 or data[:4] != INNER_MAGIC:
        raise bad("not a pgolf payload (bad magic)")
    version, hlen = struct.unpack_from("<BI", data, 4)
    if version not in (1, VERSION):
        raise bad(f"payload version {version}, expected {VERSION}")
    if 9 + hlen > len(data):
        raise bad("truncated header")
    try:
        header = json.loads(data[9 : 9 + hlen].decode("utf-8"))
        entries, meta = header["arrays"], header["meta"]
        r_off, r_len = header.get("rans", [0, 0])
    except (ValueError, KeyError, TypeError):
        raise bad("corrupt header JSON") from None
    body = memoryview(data)[9 + hlen :]
    arrays: dict[str, Tensor] = {}
    pending: list[tuple[str, torch.dtype, list, int, tuple[int, np.ndarray]]] = []
    for e in entries:
        try:
            name, dt, shape, off, nbytes, *rest = e
            enc = rest[0] if rest else "raw"
            dtype = DTYPES[dt]
            numel = math.prod(shape)
            itemsize = torch.empty(0, dtype=dtype).element_size()
        except (ValueError, KeyError, TypeError):
            raise bad(f"corrupt array entry {e!r}") from None
        if name in arrays or any(p[0] == name for p in pending):
            raise bad(f"duplicate array {name}")
        if not isinstance(off, int) or not isinstance(nbytes, int) or off < 0 or off + nbytes > len(body):
            raise bad(f"array {name}: size/offset out of bounds (truncated?)")
        chunk = bytes(body[off : off + nbytes])
        try:
            raw = _decode_chunk(chunk, enc, dtype, numel, itemsize)
        except ValueError as err:
            raise bad(f"array {name}: {err}") from None
        if enc == "rans":
            pending.append((name, dtype, shape, numel, raw))
            continue
        t = torch.frombuffer(bytearray(raw), dtype=dtype) if numel else torch.empty(0, dtype=dtype)
        if enc == "zzT":
            if len(shape) != 2:
                raise bad(f"array {name}: zzT needs a 2-D shape, got {shape}")
            t = t.reshape(shape[1], shape[0]).T.contiguous()
        arrays[name] = t.reshape(shape)
    if pending or r_len:
        if not isinstance(r_off, int) or not isinstance(r_len, int) or r_off < 0 or r_off + r_len > len(body):
            raise bad("rans stream out of bounds (truncated?)")
        try:
            vals = st.decode_rans(bytes(body[r_off : r_off + r_len]), [p[4] for p in pending], [p[3] for p in pending])
        except ValueError as err:
            raise bad(str(err)) from None
        for (name, _, shape, _, _), v in zip(pending, vals):
            arrays[name] = torch.from_numpy(v).reshape(shape)
    return arrays, meta


def _decode_chunk(chunk: bytes, enc: str, dtype: torch.dtype, numel: int, itemsize: int):
    """Raw little-endian bytes of the array (or, for rans, its parsed table)."""
    if enc == "rans":
        if dtype != torch.int8:
            raise ValueError("rans arrays must be int8")
        return st.parse_table(chunk)
    if enc.startswith("bits"):
        bits = int(enc[4:]) if enc[4:].isdigit() else 0
        if dtype != torch.int8 or not 2 <= bits <= 7 or len(chunk) != st.packed_size(numel, bits):
            raise ValueError(f"size/offset out of bounds for {enc} (truncated?)")
        return st.unpack_bits(chunk, bits, numel).tobytes()
    if len(chunk) != numel * itemsize:
        raise ValueError("size/offset out of bounds (truncated?)")
    if enc == "shuffle":
        return st.unshuffle(chunk, itemsize)
    if enc in ("zz", "zzT"):
        if dtype != torch.int8:
            raise ValueError(f"{enc} arrays must be int8")
        return st.unzigzag(np.frombuffer(chunk, dtype=np.uint8)).tobytes()
    if enc != "raw":
        raise ValueError(f"unknown encoding {enc!r}")
    return chunk


def encode_file(arrays: dict[str, Tensor], meta: dict, codec: str, level: int | None = None, storage: str = "int8",
                int_bits: dict[str, int] | None = None) -> tuple[bytes, str]:
    """→ (file bytes, codec used)."""
    used, blob = compress_best(pack(arrays, meta, storage, int_bits), codec, level)
    return FILE_MAGIC + bytes([CODEC_IDS[used]]) + blob, used


def read_file(path: Path) -> tuple[dict[str, Tensor], dict, dict]:
    """→ (arrays, meta, info) where info has codec, file_bytes, decompress_seconds (codec) and unpack_seconds."""
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
    t1 = time.perf_counter()
    arrays, meta = unpack(raw, str(path))
    return arrays, meta, {"codec": codec, "file_bytes": len(data), "decompress_seconds": t1 - t0,
                          "unpack_seconds": time.perf_counter() - t1}
