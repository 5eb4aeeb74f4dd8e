"""Local document corpora: jsonl / txt / parquet inputs, optionally .xz / .gz / .zst compressed, read in batches.

* `.jsonl` (or `.json` lines): one JSON object per line, the document in `text_field` ("text"); a blank line is an
  error (it would silently shift document indices and so the val/train split).
* `.txt`: the whole file is one document.
* `.parquet`: the `text_field` column (needs pyarrow: `pip install pgolf[parquet]`).

Readers hash the raw (compressed) bytes as they stream them, so the manifest's sha256 of every input costs no extra
pass, and count raw bytes for progress. jsonl lines are handed on undecoded (workers parse them in parallel).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from pgolf.data.checksum import sha256_file
from pgolf.errors import PgolfError

COMPRESSED = {".xz": "xz", ".lzma": "xz", ".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".txt": "txt", ".parquet": "parquet"}


@dataclass
class Batch:
    kind: str  # "jsonl" (items are raw lines, bytes) | "text" (items are documents, str)
    items: list
    source: str  # input path
    first: int  # 1-based line (jsonl) / row (parquet) / 1 (txt) of items[0]


@dataclass
class InputStats:
    path: str
    bytes: int = 0
    sha256: str = ""
    docs: int = 0
    extra: dict = field(default_factory=dict)


class _HashingRaw(io.RawIOBase):
    """A raw file that hashes and counts every byte read through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        k = self.f.readinto(b)
        if k:
            self.h.update(memoryview(b)[:k])
            self.n += k
        return k

    def close(self) -> None:
        self.f.close()
        super().close()


def describe(path: Path) -> tuple[str, str | None]:
    """(format, compression) from the file name; unknown suffixes are refused."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    comp = COMPRESSED.get(suffixes[-1]) if suffixes else None
    fmt_suffix = suffixes[-2] if comp and len(suffixes) >= 2 else (suffixes[-1] if suffixes and not comp else None)
    fmt = FORMATS.get(fmt_suffix or "")
    if fmt is None:
        raise PgolfError(f"{path}: unknown document format (expected .jsonl, .txt or .parquet, optionally "
                         f"compressed .xz/.gz/.zst)")
    if fmt == "parquet" and comp:
        raise PgolfError(f"{path}: parquet files are compressed internally; pass the .parquet file itself")
    return fmt, comp


def _decompress(raw, comp: str | None, path: Path):
    if comp is None:
        return raw
    if comp == "xz":
        return lzma.open(raw, "rb")
    if comp == "gzip":
        return gzip.open(raw, "rb")
    return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True), 1 << 20)


def total_bytes(paths: list[Path]) -> int:
    return sum(Path(p).stat().st_size for p in paths)


def check_inputs(paths: list[Path]) -> list[Path]:
    if not paths:
        raise PgolfError("--docs: at least one input file is required")
    out = []
    for p in map(Path, paths):
        if not p.is_file():
            raise PgolfError(f"{p}: input file not found")
        describe(p)
        out.append(p)
    return out


def iter_batches(paths: list[Path], stats: list[InputStats], text_field: str = "text",
                 batch_bytes: int = 1 << 20, progress=None) -> Iterator[Batch]:
    """Documents of every input in order, in batches of about `batch_bytes`; fills `stats` as files finish."""
    for path in check_inputs(paths):
        fmt, comp = describe(path)
        st = InputStats(str(path))
        stats.append(st)
        if fmt == "parquet":
            yield from _parquet(path, st, text_field, batch_bytes, progress)
            continue
        raw = _HashingRaw(open(path, "rb"))
        try:
            stream = _decompress(io.BufferedReader(raw, 1 << 20), comp, path)
            if fmt == "txt":
                try:
                    text = stream.read().decode("utf-8")
                except UnicodeDecodeError as e:
                    raise PgolfError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
                st.docs = 1
                yield Batch("text", [text], str(path), 1)
            else:
                yield from _jsonl(stream, raw, st, path, batch_bytes, progress)
            while raw.readinto(bytearray(1 << 20)):  # hash any trailing bytes the decompressor did not need
                pass
            st.bytes, st.sha256 = raw.n, raw.h.hexdigest()
        except _read_errors() as e:
            raise PgolfError(f"{path}: cannot read ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        finally:
            raw.close()


def _read_errors() -> tuple:
    """Exceptions that mean a damaged or unreadable input (truncated or corrupt compressed streams included)."""
    return (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError)


def _jsonl(stream, raw: _HashingRaw, st: InputStats, path: Path, batch_bytes: int, progress) -> Iterator[Batch]:
    items, size, first, line_no, seen = [], 0, 1, 0, 0
    for line in stream:
        line_no += 1
        if not line.strip():
            raise PgolfError(f"{path}:{line_no}: blank line (expected one JSON document per line)")
        items.append(line)
        size += len(line)
        if size >= batch_bytes:
            st.docs += len(items)
            if progress is not None:
                progress.advance_bytes(raw.n - seen)
                seen = raw.n
            yield Batch("jsonl", items, str(path), first)
            items, size, first = [], 0, line_no + 1
    if items:
        st.docs += len(items)
        yield Batch("jsonl", items, str(path), first)
    if progress is not None:
        progress.advance_bytes(raw.n - seen)


def _parquet(path: Path, st: InputStats, text_field: str, batch_bytes: int, progress) -> Iterator[Batch]:
    try:
        import pyarrow.parquet as pq  # optional dependency (pgolf[parquet]): only for .parquet inputs
    except ImportError:
        raise PgolfError(f"{path}: reading parquet needs pyarrow (pip install 'pgolf[parquet]')") from None

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types with long messages
        raise PgolfError(f"{path}: not a readable parquet file ({str(e).splitlines()[0]})") from None
    if text_field not in pf.schema_arrow.names:
        raise PgolfError(f"{path}: no column {text_field!r} (columns: {', '.join(pf.schema_arrow.names)})")
    row = 1
    for rb in pf.iter_batches(batch_size=max(1, batch_bytes // 4096), columns=[text_field]):
        texts = rb.column(0).to_pylist()
        if any(t is None for t in texts):
            raise PgolfError(f"{path}: row {row + texts.index(None)} has a null {text_field!r}")
        st.docs += len(texts)
        yield Batch("text", texts, str(path), row)
        row += len(texts)
    st.bytes, st.sha256 = path.stat().st_size, sha256_file(path)
    if progress is not None:
        progress.advance_bytes(st.bytes)
