"""The val byte sidecar of CaseOps data: `fineweb_val_bytes_NNNNNN.bin`, one per val shard (#1729; SPEC_FRONTIER §1.2).

Layout (the public one): the shard format of pgolf.data.shards — a 256-int32 header (magic 20240520, version 1,
count) then little-endian uint16 values — parallel to `fineweb_val_NNNNNN.bin`: value k is the number of ORIGINAL
(pre-transform) UTF-8 bytes that val token k stands for; BOS and operators 0 (pgolf.data.caseops_tokenizer).
Scoring then uses bpb = (Σ NLL / ln 2) / Σ sidecar over the scored targets (pgolf.eval.accounting).

`load_sidecar` refuses, one line each: a sidecar file missing for a val shard (or a stray one), one whose count
differs from its shard's ("short"), one whose size is not 1024 + 2·count ("wrong dtype": 4- or 8-byte values).
Its values are checked against a tokenizer by pgolf.data.sidecar_check (kept apart: training bundles carry this
file layer only).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pgolf.data.shards import HEADER_BYTES, MAGIC, read_header, read_shard, shard_files
from pgolf.errors import PgolfError

PREFIX = "fineweb_val_bytes_"
_NAME = re.compile(r"^fineweb_val_bytes_(\d{6})\.bin$")


def sidecar_name(index: int) -> str:
    return f"{PREFIX}{index:06d}.bin"


def sidecar_files(data_dir: Path) -> list[Path]:
    """The sidecar files of a directory, sorted ([] when it has none)."""
    return sorted(p for p in Path(data_dir).glob(f"{PREFIX}*.bin") if _NAME.match(p.name))


def has_sidecar(data_dir: Path) -> bool:
    return bool(sidecar_files(data_dir))


def _read(path: Path, want: int) -> np.ndarray:
    try:
        raw = np.fromfile(path, dtype="<i4", count=3)
    except OSError as e:
        raise PgolfError(f"{path}: cannot read the byte sidecar ({e.strerror})") from None
    if raw.size == 3 and int(raw[0]) == MAGIC and int(raw[2]) > 0:
        width = (path.stat().st_size - HEADER_BYTES) / int(raw[2])
        if width in (4.0, 8.0):
            raise PgolfError(f"{path}: byte sidecar holds {int(width)}-byte values, expected uint16 (2 bytes each)")
    n = read_header(path)
    if n != want:
        raise PgolfError(f"{path}: byte sidecar holds {n:,} values, its val shard holds {want:,} tokens "
                         f"({'short' if n < want else 'long'}; rebuild or re-download it)")
    return np.asarray(read_shard(path))


def load_sidecar(data_dir: Path) -> np.ndarray:
    """All sidecar values of a directory, concatenated like the val shards (uint16); see the module docstring."""
    data_dir = Path(data_dir)
    val = shard_files(data_dir, "val")
    side = sidecar_files(data_dir)
    names = {p.name for p in side}
    for i, shard in enumerate(val):
        if sidecar_name(i) not in names:
            raise PgolfError(f"{data_dir / sidecar_name(i)}: byte sidecar missing for {shard.name} (CaseOps data "
                             f"needs one per val shard)")
    if len(side) > len(val):
        raise PgolfError(f"{side[len(val)]}: byte sidecar without a val shard {side[len(val)].name.replace('bytes_', '')}")
    parts = [_read(p, read_header(s)) for p, s in zip(side, val)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
