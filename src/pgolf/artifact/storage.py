"""How each array's values are laid out before the codec (`artifact.storage`), each layout an exact inverse.

    int8    one byte per quantized value, float arrays as is (what all five seeds store; SPEC_SEEDS §1.7)
    packed  N-bit values bit-packed (offset binary, 4 int6 values in 3 bytes); float arrays byte-shuffled
    zigzag_t  int8 containers with every quantized matrix stored column-major (its transpose; #1855 transposes each
            matrix before its codec) and zigzag-mapped (0, −1, 1, −2, … → 0, 1, 2, 3, …, so a byte's value grows with
            |q| and a context-modelling codec such as brotli sees the local scale in the previous bytes); float arrays
            byte-shuffled. Per-row quantization leaves the column scales varying more than the rows'.
    rans    quantized values entropy-coded with one static histogram per tensor (pgolf.artifact.rans), all
            tensors in one interleaved stream; float arrays byte-shuffled
Byte shuffle (blosc-style) stores all first bytes of an fp16/fp32 array, then all second bytes, … so the codec sees
the slowly varying exponent bytes together. Which layout compresses smallest is measured by benchmarks/codecs.py.
Array encodings recorded per entry: "raw", "shuffle", "bits2".."bits7", "rans", "zz" (zigzag bytes), "zzT" (a
2-D array's transpose, zigzag bytes).
"""

from __future__ import annotations

import struct

import numpy as np

from pgolf.artifact import rans

STORAGES = ("int8", "packed", "rans", "zigzag_t")


def shuffle(raw: bytes, itemsize: int) -> bytes:
    a = np.frombuffer(raw, dtype=np.uint8)
    return a.reshape(-1, itemsize).T.tobytes() if itemsize > 1 and a.size else raw


def unshuffle(raw: bytes, itemsize: int) -> bytes:
    a = np.frombuffer(raw, dtype=np.uint8)
    return a.reshape(itemsize, -1).T.tobytes() if itemsize > 1 and a.size else raw


def pack_bits(v: np.ndarray, bits: int) -> bytes:
    """int8 values in [−2^(bits−1), 2^(bits−1)) → ceil(n·bits/8) bytes, MSB first."""
    half = 1 << (bits - 1)
    if v.size and (int(v.min()) < -half or int(v.max()) >= half):
        raise ValueError(f"values outside the {bits}-bit range")
    u = (v.astype(np.int16) + half).astype(np.uint8)
    planes = np.unpackbits(u.reshape(-1, 1), axis=1)[:, 8 - bits:]
    return np.packbits(planes.reshape(-1)).tobytes()


def unpack_bits(raw: bytes, bits: int, n: int) -> np.ndarray:
    planes = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[: n * bits].reshape(n, bits)
    u = np.packbits(np.concatenate([np.zeros((n, 8 - bits), np.uint8), planes], axis=1), axis=1).reshape(-1)
    return (u.astype(np.int16) - (1 << (bits - 1))).astype(np.int8)


def packed_size(n: int, bits: int) -> int:
    return -(-n * bits // 8)


class RansStream:
    """Collects int8 arrays into one rANS stream: each array becomes a context with its own histogram."""

    def __init__(self) -> None:
        self.syms: list[np.ndarray] = []
        self.freqs: list[np.ndarray] = []

    def add(self, v: np.ndarray) -> bytes:
        """Register an array; → its table chunk: i8 lo, then K u16 frequencies (K = max − min + 1)."""
        v = v.reshape(-1).astype(np.int64)
        lo = int(v.min()) if v.size else 0
        sym = v - lo
        k = int(sym.max()) + 1 if v.size else 1
        f = rans.quantize_freqs(np.bincount(sym, minlength=k)) if v.size else np.full(1, rans.M, np.uint32)
        self.syms.append(sym)
        self.freqs.append(f)
        return struct.pack("<b", lo) + f.astype("<u2").tobytes()

    def finish(self) -> bytes:
        if not self.syms:
            return b""
        ctx = np.repeat(np.arange(len(self.syms)), [s.size for s in self.syms])
        return rans.encode(np.concatenate(self.syms), ctx, _table_matrix(self.freqs))


def _table_matrix(freqs: list[np.ndarray]) -> np.ndarray:
    k = max(f.size for f in freqs)
    out = np.zeros((len(freqs), k), dtype=np.uint32)
    for i, f in enumerate(freqs):
        out[i, : f.size] = f
    return out


def parse_table(chunk: bytes) -> tuple[int, np.ndarray]:
    """Table chunk → (lo, freqs); ValueError if malformed."""
    if len(chunk) < 3 or (len(chunk) - 1) % 2:
        raise ValueError("bad rans table size")
    lo = struct.unpack_from("<b", chunk)[0]
    f = np.frombuffer(chunk[1:], dtype="<u2").astype(np.uint32)
    if f.size > 256 or int(f.sum()) != rans.M or lo + f.size > 128:
        raise ValueError("bad rans table")
    return lo, f


def decode_rans(stream: bytes, tables: list[tuple[int, np.ndarray]], sizes: list[int]) -> list[np.ndarray]:
    """The arrays of a stream, in registration order (int8)."""
    if not tables:
        if stream:
            raise ValueError("rans stream without tables")
        return []
    ctx = np.repeat(np.arange(len(tables)), sizes)
    sym = rans.decode(stream, ctx, _table_matrix([f for _, f in tables]))
    out, off = [], 0
    for (lo, _), n in zip(tables, sizes):
        out.append((sym[off: off + n] + lo).astype(np.int8))
        off += n
    return out


def zigzag(v: np.ndarray) -> np.ndarray:
    """int8 → uint8: 0, −1, 1, −2, 2, … → 0, 1, 2, 3, 4, … (a bijection on the 256 values)."""
    w = v.astype(np.int16)
    return np.where(w >= 0, 2 * w, -2 * w - 1).astype(np.uint8)


def unzigzag(u: np.ndarray) -> np.ndarray:
    w = u.astype(np.int16)
    return np.where(w % 2 == 0, w // 2, -(w + 1) // 2).astype(np.int8)
