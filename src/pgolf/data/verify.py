"""`pgolf data verify DIR`: every shard of a data directory checked against the format, its manifest and a tokenizer.

Checks, each a one-line PgolfError naming the file: header magic/version, exact size (shards.read_header); shard
indices 0..n−1 without gaps per split; every token id < the vocabulary (when a tokenizer or vocab is given); the
counts recorded by a manifest — pgolf's own build manifest (DIR/manifest.json, "format": "pgolf-data/1"), the
proxy corpus manifest (val_tokens / train_shards / shard_tokens), or the challenge's export manifest
(DIR/../../manifest.json, the entry named DIR's name) — so a stale or foreign manifest is caught; and a tokenizer
whose vocabulary size or sha256 differs from the one the manifest records. CaseOps data: the val byte sidecar's
files, lengths and dtype, and with a tokenizer its values (pgolf.data.sidecar_check); the report carries the
counts reviewers compare (val_tokens, target tokens at T=2048, train shards; SPEC_FRONTIER.md §1.2).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from pgolf.data.caseops import is_caseops_tokenizer
from pgolf.data.caseops_tokenizer import check_caseops_tokenizer
from pgolf.data.checksum import sha256_file
from pgolf.data.fineweb import check_against_entry
from pgolf.data.shards import load_split, read_header, read_shard
from pgolf.data.sidecar import has_sidecar, load_sidecar, sidecar_files
from pgolf.data.sidecar_check import check_sidecar
from pgolf.errors import PgolfError

_NAME = re.compile(r"^fineweb_(train|val)_(\d{6})\.bin$")
BUILD_FORMAT = "pgolf-data/1"


def split_files(data_dir: Path) -> dict[str, list[Path]]:
    """{"val": [...], "train": [...]} sorted, with index gaps refused."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PgolfError(f"{data_dir}: data directory does not exist")
    out: dict[str, list[Path]] = {"val": [], "train": []}
    for p in sorted(data_dir.glob("fineweb_*_*.bin")):
        m = _NAME.match(p.name)
        if m:
            out[m[1]].append(p)
    for split, files in out.items():
        if not files:
            raise PgolfError(f"{data_dir}: no fineweb_{split}_*.bin shards found")
        for i, p in enumerate(files):
            if int(_NAME.match(p.name)[2]) != i:
                raise PgolfError(f"{data_dir}: fineweb_{split}_{i:06d}.bin is missing (shards must be numbered "
                                 f"0..{len(files) - 1} without gaps; found {p.name})")
    return out


def _scan(path: Path, n: int, bos_id: int | None, vocab: int | None) -> dict:
    toks = read_shard(path)
    info: dict = {"max_id": int(toks.max()) if n else -1}
    if bos_id is not None:
        info["docs"] = int(np.count_nonzero(toks == bos_id))
    if vocab is not None and info["max_id"] >= vocab:
        pos = int(np.argmax(toks >= vocab))
        raise PgolfError(f"{path}: token id {info['max_id']} ≥ vocab size {vocab} (first at position {pos}) — "
                         f"the tokenizer does not match this data")
    return info


def check_tokenizer_matches(sp, shard: Path, tok_path, max_docs: int = 5) -> int:
    """Re-encode decoded documents of `shard`: the tokenizer that wrote them reproduces them id for id.

    BPE encoding is deterministic and its normalisation idempotent, so encode(decode(doc)) == doc for every
    document the right tokenizer exported; another tokenizer of the same vocab size decodes to different text.
    Documents holding <unk> are skipped (<unk> decodes to " ⁇ "). Returns the number of documents compared.
    """
    toks = read_shard(shard)
    head = np.asarray(toks[: min(toks.size, 2_000_000)])
    bos = np.flatnonzero(head == sp.bos_id())
    checked = 0
    for a, b in zip(bos[:-1].tolist(), bos[1:].tolist()):
        doc = head[a + 1 : b]
        if not doc.size or b - a > 20_000 or (doc == sp.unk_id()).any():
            continue
        ids = doc.tolist()
        again = sp.encode(sp.decode(ids))
        if again != ids:
            j = next((k for k, (u, v) in enumerate(zip(ids, again)) if u != v), min(len(ids), len(again)))
            raise PgolfError(f"{tok_path}: does not match the data — the document at {shard.name} position {a} "
                             f"does not re-encode to itself (first difference at token {j})")
        checked += 1
        if checked == max_docs:
            break
    return checked


def verify_dir(data_dir: Path, vocab_size: int | None = None, tokenizer: Path | None = None, bos_id: int | None = None,
               scan: bool = True, checksums: bool = False, sp=None) -> dict:
    data_dir = Path(data_dir)
    files = split_files(data_dir)
    rows, totals = [], {"val": 0, "train": 0}
    tok_sha = sha256_file(tokenizer) if tokenizer is not None else None
    for split, paths in files.items():
        for p in paths:
            n = read_header(p)
            row = {"name": p.name, "split": split, "tokens": n, "bytes": p.stat().st_size}
            if scan:
                row.update(_scan(p, n, bos_id, vocab_size))
            if checksums:
                row["sha256"] = sha256_file(p)
            rows.append(row)
            totals[split] += n
    out = {"dir": str(data_dir), "val_tokens": totals["val"], "train_tokens": totals["train"],
           "val_files": len(files["val"]), "train_files": len(files["train"]), "files": rows}
    if scan:
        out["max_id"] = max(r["max_id"] for r in rows)
        if bos_id is not None:  # documents start at BOS: counted only when the BOS id is known
            out["val_docs"] = sum(r["docs"] for r in rows if r["split"] == "val")
            out["train_docs"] = sum(r["docs"] for r in rows if r["split"] == "train")
    if vocab_size is not None:
        out["vocab_size"] = vocab_size
    out["manifest"] = check_manifest(data_dir, out, vocab_size, tok_sha, tokenizer)
    if sp is not None:
        out["tokenizer_docs_reencoded"] = check_tokenizer_matches(sp, files["val"][0], tokenizer)
    out["val_targets_T2048"] = max(out["val_tokens"] - 1, 0) // 2048 * 2048
    out["sidecar"] = verify_sidecar(data_dir, sp, tokenizer)
    return out


def verify_sidecar(data_dir: Path, sp, tokenizer) -> dict | None:
    """The CaseOps val byte sidecar (pgolf.data.sidecar): lengths and dtype always, values against the tokenizer
    when one is given; a CaseOps tokenizer with data that has no sidecar is refused."""
    caseops = sp is not None and is_caseops_tokenizer(sp)
    if not has_sidecar(data_dir):
        if caseops:
            raise PgolfError(f"{data_dir}: no fineweb_val_bytes_*.bin sidecar, but {tokenizer} is a CaseOps tokenizer "
                             f"— this data cannot be scored")
        return None
    side = load_sidecar(data_dir)
    r = {"files": len(sidecar_files(data_dir)), "values": int(side.size), "bytes": int(side.sum(dtype=np.int64))}
    if caseops:
        check_caseops_tokenizer(sp, tokenizer)
        r.update(check_sidecar(load_split(data_dir, "val"), side, sp, data_dir))
    return r


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PgolfError(f"{path}: unreadable manifest ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise PgolfError(f"{path}: manifest must be a JSON object")
    return data


def check_manifest(data_dir: Path, got: dict, vocab: int | None, tok_sha: str | None, tok_path) -> str:
    """Compare the directory against whichever manifest describes it; → a short description of what was checked."""
    own = data_dir / "manifest.json"
    if own.is_file():
        m = _load_json(own)
        if m.get("format") == BUILD_FORMAT:
            return _check_build(own, m, got, vocab, tok_sha, tok_path)
        if "val_tokens" in m:
            _expect(own, "val_tokens", m["val_tokens"], got["val_tokens"])
            if "train_shards" in m:
                _expect(own, "train_shards", m["train_shards"], got["train_files"])
            if "shard_tokens" in m:
                for r in got["files"]:
                    if r["split"] == "train" and r["tokens"] != m["shard_tokens"]:
                        raise PgolfError(f"{own}: shard_tokens is {m['shard_tokens']}, but {r['name']} holds "
                                         f"{r['tokens']} — stale manifest or wrong directory")
            return f"{own} (val_tokens, train shards)"
    challenge = data_dir.parent.parent / "manifest.json"
    if challenge.is_file():
        m = _load_json(challenge)
        entry = next((d for d in m.get("datasets", []) if d.get("name") == data_dir.name), None)
        if entry is not None:
            check_against_entry(challenge, entry, got, vocab)
            return f"{challenge} (dataset {data_dir.name})"
    return "none"


def _expect(path: Path, key: str, want, have) -> None:
    if want != have:
        raise PgolfError(f"{path}: {key} is {want}, the directory has {have} — stale manifest or wrong directory")


def _check_build(path: Path, m: dict, got: dict, vocab: int | None, tok_sha: str | None, tok_path) -> str:
    _expect(path, "val_tokens", m.get("val_tokens"), got["val_tokens"])
    _expect(path, "train_tokens", m.get("train_tokens"), got["train_tokens"])
    recorded = {f["name"]: f for f in m.get("files", [])}
    names = {r["name"] for r in got["files"]}
    if set(recorded) != names:
        extra = sorted(names - set(recorded)) or sorted(set(recorded) - names)
        raise PgolfError(f"{path}: the manifest's shard list differs from the directory (e.g. {extra[0]})")
    for r in got["files"]:
        want = recorded[r["name"]]
        if want.get("tokens") != r["tokens"]:
            raise PgolfError(f"{path}: {r['name']} should hold {want.get('tokens')} tokens, it holds {r['tokens']}")
        if "sha256" in r and want.get("sha256") and want["sha256"] != r["sha256"]:
            raise PgolfError(f"{data_dir_of(path) / r['name']}: sha256 differs from the manifest's (corrupted?)")
    tok = m.get("tokenizer") or {}
    if vocab is not None and tok.get("vocab_size") not in (None, vocab):
        raise PgolfError(f"{tok_path or 'vocab'}: vocab {vocab} does not match the data's tokenizer "
                         f"(vocab {tok['vocab_size']}, per {path})")
    if tok_sha is not None and tok.get("sha256") not in (None, tok_sha):
        raise PgolfError(f"{tok_path}: not the tokenizer this data was built with (sha256 {tok_sha[:12]}…, "
                         f"{path} records {tok['sha256'][:12]}… from {tok.get('path')})")
    return f"{path} (counts, shard list{', tokenizer' if tok_sha else ''})"


def data_dir_of(manifest: Path) -> Path:
    return manifest.parent
