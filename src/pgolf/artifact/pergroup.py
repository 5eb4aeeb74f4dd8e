"""Per-group compression of the artifact (#1855's `_serialize_pergroup`; SPEC_FRONTIER.md §4.6, §7(a) 12).

Groups. Every int8 array of quantized values (int_bits names them) joins the group of its name with the layer
index removed — blocks.3.attn.c_q.weight.q → attn.c_q.weight.q, its members in layer order — and every other int8
array of quantized values outside the blocks is a group of its own (tok_emb.weight.q). Everything else (scales,
fp16 passthrough, LQER factors kept float, …) is the `rest`, packed by pgolf.artifact.pack with the artifact's
storage and compressed as one stream.

Per group, each layout × each codec is tried and the smallest kept:
    rows    the members' bytes as they are, one after the other
    T       each 2-D member transposed (column-major), as #1855 does for every group
    sortT   rows reordered by greedy L1 nearest-neighbour (start at row 0, always append the closest unused row;
            #1855's similarity sort for tok_emb, attn.c_q and mlp.fc), then transposed; the permutation (u16, or
            u32 past 65,535 rows) is stored in front of the group's bytes
and each of them again with the values zigzag-mapped (z:…, pgolf.artifact.storage.zigzag: 0, −1, 1, −2, … →
0, 1, 2, 3, …, so a byte grows with |q|). A layout is kept only where it pays: it competes on bytes with the
others. The codecs are pgolf.artifact.codecs' installed ones plus `lrzip -z -L9` (#1855's codec for the int8
groups) when the binary is on PATH; a missing one is reported in the encode info (`skipped`), never silently
dropped. Measured by benchmarks/pergroup.py (at tiny size the separate streams cost more than they save).

Container (after the file's b"PGA" + codec id of "pergroup"): b"PGG1" | u32 LE header length | header JSON
(sorted keys: meta, rest codec, and per group its key, codec, layout and members [name, shape]) | streams, each
u32 LE length-prefixed, groups first and the rest last. Decoding is the exact inverse (tested), checks every length
and shape, and a corrupt file is one PgolfError line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections import defaultdict

import numpy as np
import torch
from torch import Tensor

from pgolf.artifact.codecs import available, compress, decompress
from pgolf.artifact.config import PerGroupConfig
from pgolf.artifact.pack import FILE_MAGIC, pack, unpack
from pgolf.artifact.storage import unzigzag, zigzag
from pgolf.errors import PgolfError

MAGIC = b"PGG1"
FILE_ID = 9  # the file's codec byte for a per-group container (pgolf.artifact.codecs uses 1..4)
LAYOUTS = ("rows", "T", "sortT", "z:rows", "z:T", "z:sortT")


def lrzip_available() -> bool:
    return shutil.which("lrzip") is not None


def _lrzip(data: bytes, decompress_: bool) -> bytes:
    if not lrzip_available():
        raise PgolfError("codec lrzip: the `lrzip` binary is not on PATH (apt-get install lrzip)")
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in"), os.path.join(d, "out")
        with open(src, "wb") as f:
            f.write(data)
        args = ["lrzip", "-d", "-f", "-o", dst, src] if decompress_ else ["lrzip", "-z", "-L", "9", "-o", dst, src]
        if subprocess.run(args, capture_output=True).returncode != 0:
            raise PgolfError(f"lrzip {'-d' if decompress_ else '-z'} failed (corrupt stream?)")
        with open(dst, "rb") as f:
            return f.read()


def _compress(data: bytes, codec: str) -> bytes:
    return _lrzip(data, False) if codec == "lrzip" else compress(data, codec)


def _decompress(data: bytes, codec: str) -> bytes:
    return _lrzip(data, True) if codec == "lrzip" else decompress(data, codec)


def simsort(m: np.ndarray) -> np.ndarray:
    """Greedy L1 nearest-neighbour row order starting at row 0 (ties: the lowest row index)."""
    n = m.shape[0]
    rows = m.astype(np.float32)
    used = np.zeros(n, dtype=bool)
    order = [0]
    used[0] = True
    for _ in range(n - 1):
        free = np.flatnonzero(~used)
        best = free[np.argmin(np.abs(rows[free] - rows[order[-1]]).sum(1))]
        order.append(int(best))
        used[best] = True
    return np.asarray(order, dtype=np.int64)


def group_key(name: str) -> tuple[str, int]:
    m = re.match(r"blocks\.(\d+)\.(.+)$", name)
    return (m.group(2), int(m.group(1))) if m else ("_" + name, 0)


def layout_bytes(members: list[np.ndarray], layout: str, max_rows: int) -> bytes | None:
    """The group's bytes in a layout (None when the layout does not apply)."""
    zz, layout = layout.startswith("z:"), layout.removeprefix("z:")
    if layout != "rows" and not any(a.ndim == 2 for a in members):
        return None
    if layout == "sortT" and any(a.ndim == 2 and a.shape[0] > max_rows for a in members):
        return None
    out = []
    for a in members:
        if a.ndim == 2 and layout == "sortT":
            p = simsort(a)
            out.append(p.astype("<u2" if a.shape[0] <= 65_536 else "<u4").tobytes())
            a = a[p]
        a = np.ascontiguousarray(a.T) if a.ndim == 2 and layout != "rows" else a
        out.append((zigzag(a.reshape(-1)) if zz else a).tobytes())
    return b"".join(out)


def codecs_to_try(cfg: PerGroupConfig) -> tuple[list[str], list[str]]:
    """(codecs used, codecs skipped because not installed)."""
    ok = [c for c in cfg.codecs if (lrzip_available() if c == "lrzip" else available(c))]
    return ok, [c for c in cfg.codecs if c not in ok]


def encode_pergroup(arrays: dict[str, Tensor], meta: dict, int_bits: dict[str, int], storage: str,
                    rest_codec: str, cfg: PerGroupConfig) -> tuple[bytes, dict]:
    """→ (container bytes, info: per group codec/layout/bytes, the rest's bytes, skipped codecs)."""
    codecs, skipped = codecs_to_try(cfg)
    if not codecs:
        raise PgolfError(f"artifact.pergroup.codecs={','.join(cfg.codecs)}: none of them is installed")
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    rest = {}
    for name, t in arrays.items():
        if t.dtype == torch.int8 and name in int_bits and t.ndim in (1, 2):
            key, layer = group_key(name)
            groups[key].append((layer, name))
        else:
            rest[name] = t
    header, streams, info = {"meta": meta, "groups": []}, [], {"groups": {}, "skipped": skipped}
    for key in sorted(groups):
        names = [n for _, n in sorted(groups[key])]
        members = [arrays[n].detach().cpu().numpy() for n in names]
        best = None
        for layout in LAYOUTS:
            raw = layout_bytes(members, layout, cfg.simsort_max_rows)
            if raw is None:
                continue
            for c in codecs:
                blob = _compress(raw, c)
                if best is None or len(blob) < len(best[2]):
                    best = (layout, c, blob)
        layout, c, blob = best
        header["groups"].append({"key": key, "layout": layout, "codec": c,
                                 "members": [[n, list(arrays[n].shape)] for n in names]})
        streams.append(blob)
        info["groups"][key] = {"layout": layout, "codec": c, "bytes": len(blob)}
    rest_used = rest_codec if rest_codec != "auto" else None
    payload = pack(rest, {}, storage, {k: v for k, v in int_bits.items() if k in rest})
    if rest_used is None:
        rest_used, blob = min(((c, compress(payload, c)) for c in ("zlib", "zstd", "lzma", "brotli") if available(c)),
                              key=lambda cb: len(cb[1]))
    else:
        blob = compress(payload, rest_used)
    header["rest_codec"] = rest_used
    streams.append(blob)
    info["rest"] = {"codec": rest_used, "bytes": len(blob)}
    hbytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    body = b"".join(struct.pack("<I", len(s)) + s for s in streams)
    return MAGIC + struct.pack("<I", len(hbytes)) + hbytes + body, info


def decode_pergroup(data: bytes, source: str = "artifact") -> tuple[dict[str, Tensor], dict]:
    def bad(msg: str) -> PgolfError:
        return PgolfError(f"{source}: per-group container: {msg}")

    if data[:4] != MAGIC or len(data) < 8:
        raise bad("bad magic")
    (hlen,) = struct.unpack_from("<I", data, 4)
    try:
        header = json.loads(data[8 : 8 + hlen].decode("utf-8"))
        groups, meta, rest_codec = header["groups"], header["meta"], header["rest_codec"]
    except (ValueError, KeyError, TypeError):
        raise bad("corrupt header JSON") from None
    off, streams = 8 + hlen, []
    for _ in range(len(groups) + 1):
        if off + 4 > len(data):
            raise bad("truncated stream table")
        (n,) = struct.unpack_from("<I", data, off)
        if off + 4 + n > len(data):
            raise bad("truncated stream")
        streams.append(data[off + 4 : off + 4 + n])
        off += 4 + n
    arrays, _ = unpack(decompress(streams[-1], rest_codec), source)
    for g, blob in zip(groups, streams):
        raw, pos = _decompress(blob, g["codec"]), 0
        zz, layout = g["layout"].startswith("z:"), g["layout"].removeprefix("z:")
        for name, shape in g["members"]:
            numel = int(np.prod(shape))
            if len(shape) == 2 and layout == "sortT":
                w = 2 if shape[0] <= 65_536 else 4
                if pos + w * shape[0] > len(raw):
                    raise bad(f"group {g['key']}: array {name} is truncated")
                perm = np.frombuffer(raw, dtype="<u2" if w == 2 else "<u4", count=shape[0], offset=pos).astype(np.int64)
                if not np.array_equal(np.sort(perm), np.arange(shape[0])):
                    raise bad(f"group {g['key']}: array {name} has a corrupt row order")
                pos += w * shape[0]
            if pos + numel > len(raw):
                raise bad(f"group {g['key']}: array {name} is truncated")
            a = np.frombuffer(raw, dtype=np.int8, count=numel, offset=pos)
            if zz:
                a = unzigzag(a.view(np.uint8))
            pos += numel
            if len(shape) == 2 and layout != "rows":
                a = a.reshape(shape[1], shape[0]).T
                if layout == "sortT":
                    out = np.empty_like(a)
                    out[perm] = a
                    a = out
            arrays[name] = torch.from_numpy(np.ascontiguousarray(a).reshape(shape).copy())
    return arrays, meta


def encode_file_pergroup(arrays: dict[str, Tensor], meta: dict, int_bits: dict[str, int], storage: str,
                         rest_codec: str, cfg: PerGroupConfig) -> tuple[bytes, dict]:
    """→ (file bytes: b"PGA" | FILE_ID | container, info)."""
    container, info = encode_pergroup(arrays, meta, int_bits, storage, rest_codec, cfg)
    return FILE_MAGIC + bytes([FILE_ID]) + container, info
