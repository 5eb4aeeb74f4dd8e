"""The artifact block of the config tree: storage of quantized values, codec, byte cap and the bundle's code wrap.

Owned by pgolf.artifact; composed by the root `pgolf.config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class PerGroupConfig:
    """Per-group compression (pgolf.artifact.pergroup, #1855): quantized arrays grouped by name across layers, each
    group stored in its best layout (rows | transposed | similarity-sorted and transposed) with its best codec of
    `codecs` (lrzip only where its binary is installed; a missing codec is reported as skipped)."""

    codecs: tuple[str, ...] = ("brotli", "lzma", "zstd", "lrzip")
    simsort_max_rows: int = 16_384  # the similarity sort is O(rows²·cols); larger members skip the sortT layout


@dataclass(frozen=True)
class ArtifactConfig:
    """The artifact: storage of quantized values, compression codec, and the decimal cap on code + model bytes."""

    codec: Literal["zlib", "zstd", "lzma", "brotli", "auto"] = "zlib"
    level: int | None = None  # None = the codec's default (zlib 9, zstd 22, lzma 9, brotli 11)
    # int8 containers | bit-packed | rANS entropy-coded | column-major zigzag bytes (pgolf.artifact.storage)
    storage: Literal["int8", "packed", "rans", "zigzag_t"] = "int8"
    max_bytes: int = 16_000_000
    # how the bundled train_gpt.py wraps its compressed sources (pgolf.artifact.bundle): base85 text, the accepted
    # convention since #1530, or raw bytes in a latin-1 string literal (about 14% smaller code, a binary-looking file)
    code_wrap: Literal["b85", "latin1"] = "b85"
    # the bundle's minifier: docstrings and comments dropped by an AST round trip, or that plus python-minifier's
    # local renaming (`pyminify`, as the records count since #1530); and its codec: lzma (stdlib) or brotli-11
    code_minify: Literal["ast", "pyminify"] = "ast"
    code_codec: Literal["lzma", "brotli"] = "lzma"
    pergroup: PerGroupConfig | None = None  # per-group containers; `codec` then compresses the non-grouped rest


def artifact_checks(a: ArtifactConfig) -> list[tuple[bool, str, str]]:
    """(ok, key, message) rows of the artifact block."""
    return [(a.max_bytes > 0, "artifact.max_bytes", "must be > 0")]
