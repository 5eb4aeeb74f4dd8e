"""Compression codecs for the artifact: zlib-9 (baseline), zstd-22 (#198/#295/#443), lzma-9 (#1473), and `auto`.

No silent fallback: asking for zstd without the `zstandard` package is an error, and `auto` reports which codec won.
"""

from __future__ import annotations

import lzma
import zlib

from pgolf.errors import PgolfError

CODEC_IDS = {"zlib": 1, "zstd": 2, "lzma": 3}
CODEC_NAMES = {v: k for k, v in CODEC_IDS.items()}
DEFAULT_LEVELS = {"zlib": 9, "zstd": 22, "lzma": 9}


def _zstd():
    try:
        import zstandard
    except ImportError:
        raise PgolfError("codec zstd: the `zstandard` package is not installed (pip install zstandard)") from None
    return zstandard


def compress(data: bytes, codec: str, level: int | None = None) -> bytes:
    lvl = DEFAULT_LEVELS.get(codec) if level is None else level
    if codec == "zlib":
        return zlib.compress(data, level=lvl)
    if codec == "zstd":
        return _zstd().ZstdCompressor(level=lvl).compress(data)
    if codec == "lzma":
        return lzma.compress(data, preset=lvl)
    raise PgolfError(f"artifact.codec: unknown codec {codec!r}, expected one of {sorted(CODEC_IDS)} or 'auto'")


def decompress(data: bytes, codec: str) -> bytes:
    try:
        if codec == "zlib":
            return zlib.decompress(data)
        if codec == "zstd":
            return _zstd().ZstdDecompressor().decompress(data)
        if codec == "lzma":
            return lzma.decompress(data)
    except PgolfError:
        raise
    except Exception as e:
        raise PgolfError(f"{codec} stream is truncated or corrupt ({type(e).__name__})") from None
    raise PgolfError(f"unknown codec {codec!r}")


def compress_best(data: bytes, codec: str, level: int | None = None) -> tuple[str, bytes]:
    """(codec used, blob). 'auto' keeps the smallest of zlib-9, zstd-22 and lzma-9."""
    if codec != "auto":
        return codec, compress(data, codec, level)
    best: tuple[str, bytes] | None = None
    for name in CODEC_IDS:
        blob = compress(data, name)
        if best is None or len(blob) < len(best[1]):
            best = (name, blob)
    assert best is not None
    return best
