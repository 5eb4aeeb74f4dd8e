"""Compression codecs for the artifact: zlib-9 (baseline), zstd-22 (#198/#295/#443), lzma-9 (#1473), brotli-11
(#1089 → #1218, SPEC_FRONTIER §4.6), and `auto`, which keeps the smallest.

No silent fallback: zstd without `zstandard` or brotli without `brotli` (an optional dependency: pip install
'pgolf[brotli]') is a one-line error; `auto` skips a missing optional codec and says so in its report.
"""

from __future__ import annotations

import lzma
import zlib

from pgolf.errors import PgolfError

CODEC_IDS = {"zlib": 1, "zstd": 2, "lzma": 3, "brotli": 4}
CODEC_NAMES = {v: k for k, v in CODEC_IDS.items()}
DEFAULT_LEVELS = {"zlib": 9, "zstd": 22, "lzma": 9, "brotli": 11}


def _zstd():
    try:
        import zstandard  # guarded import: a missing package is one clear line, not a traceback
    except ImportError:
        raise PgolfError("codec zstd: the `zstandard` package is not installed (pip install zstandard)") from None
    return zstandard


def _brotli():
    try:
        import brotli  # optional dependency (pgolf[brotli])
    except ImportError:
        raise PgolfError("codec brotli: the optional `brotli` package is not installed (pip install brotli)") from None
    return brotli


def available(codec: str) -> bool:
    try:
        {"zstd": _zstd, "brotli": _brotli}.get(codec, lambda: None)()
    except PgolfError:
        return False
    return True


def compress(data: bytes, codec: str, level: int | None = None) -> bytes:
    lvl = DEFAULT_LEVELS.get(codec) if level is None else level
    if codec == "zlib":
        return zlib.compress(data, level=lvl)
    if codec == "zstd":
        return _zstd().ZstdCompressor(level=lvl).compress(data)
    if codec == "lzma":
        return lzma.compress(data, preset=lvl)
    if codec == "brotli":
        return _brotli().compress(data, quality=lvl, lgwin=24)
    raise PgolfError(f"artifact.codec: unknown codec {codec!r}, expected one of {sorted(CODEC_IDS)} or 'auto'")


def decompress(data: bytes, codec: str) -> bytes:
    lib = {"zstd": _zstd, "brotli": _brotli}.get(codec, lambda: None)()
    try:
        if codec == "zlib":
            return zlib.decompress(data)
        if codec == "zstd":
            return lib.ZstdDecompressor().decompress(data)
        if codec == "lzma":
            return lzma.decompress(data)
        if codec == "brotli":
            return lib.decompress(data)
    except Exception as e:
        raise PgolfError(f"{codec} stream is truncated or corrupt ({type(e).__name__})") from None
    raise PgolfError(f"unknown codec {codec!r}")


def compress_best(data: bytes, codec: str, level: int | None = None) -> tuple[str, bytes]:
    """(codec used, blob). 'auto' keeps the smallest of the installed codecs at their default levels."""
    return compress_report(data, codec, level)[:2]


def compress_report(data: bytes, codec: str, level: int | None = None) -> tuple[str, bytes, dict[str, int | None]]:
    """(codec used, blob, {codec: compressed bytes, or None when not installed}) — `auto` tries every codec."""
    if codec != "auto":
        blob = compress(data, codec, level)
        return codec, blob, {codec: len(blob)}
    best: tuple[str, bytes] | None = None
    sizes: dict[str, int | None] = {}
    for name in CODEC_IDS:
        if not available(name):
            sizes[name] = None
            continue
        blob = compress(data, name)
        sizes[name] = len(blob)
        if best is None or len(blob) < len(best[1]):
            best = (name, blob)
    assert best is not None
    return best[0], best[1], sizes
