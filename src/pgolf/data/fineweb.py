"""`pgolf data fineweb`: the published challenge export (and community variants), manifest-driven and verified.

Layout (openai/parameter-golf data/cached_challenge_fineweb.py): the repo holds `<root>/manifest.json`,
`<root>/datasets/fineweb10B_<variant>/fineweb_{val,train}_NNNNNN.bin` and `<root>/tokenizers/...`; locally the
`<root>/` prefix is dropped under `--dir` (default data/). The manifest's dataset entry gives the shard counts
(stats.files_val / files_train), the val token count (stats.tokens_val) and the tokenizer's files.

Guarantees: the remote manifest is always compared with the local one — a stale manifest (another repo, an older
export: the failure the community hit when switching to kevclark/parameter-golf) is reported and replaced, and
files are then re-verified by checksum; every file is size- and checksum-verified; interrupted transfers resume;
after the download the val shards must hold exactly stats.tokens_val tokens, and, for the variants below, the
val token count trimmed to 1 + k·T must equal the figure every published run logged. CaseOps variants
(`sp8192_caseops` = the published `sp8192_lossless_caps_caseops_v1_reserved` of romeerp/parameter-golf-caseops-v1,
#1729) also fetch the val byte sidecar `fineweb_val_bytes_*.bin` and check it against the val shards
(pgolf.data.sidecar); a CaseOps entry without one is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pgolf.data.hub import download, make_hub
from pgolf.data.progress import ByteProgress
from pgolf.data.shards import read_header
from pgolf.data.sidecar import load_sidecar
from pgolf.errors import PgolfError

RECORD = ".pgolf-download.json"


@dataclass(frozen=True)
class Variant:
    repo: str
    val_trimmed: tuple[int, int]  # (T, val tokens trimmed to 1 + k·T, minus 1) as logged by published runs
    source: str


VARIANTS = {
    "sp1024": Variant("willdepueoai/parameter-golf", (1024, 62_021_632), "every sp1024 record log: tokens:62021632"),
    "sp4096": Variant("kevclark/parameter-golf", (2048, 45_508_608), "2026-04-01_Vocab4096_MLPMult4_WD085 logs"),
    "sp8192": Variant("kevclark/parameter-golf", (2048, 40_540_160), "2026-04-05_SP8192_GPTQ-Embeddings logs"),
    "sp8192_lossless_caps_caseops_v1_reserved": Variant("romeerp/parameter-golf-caseops-v1", (2048, 47_851_520),
                                                         "2026-04-18_PR1626_CaseOps_Taper logs"),
}


# Short names for long published variants (the local folder keeps the published dataset name).
ALIASES = {"sp8192_caseops": "sp8192_lossless_caps_caseops_v1_reserved"}


def dataset_name(variant: str) -> str:
    if variant == "byte260" or variant.startswith("sp"):
        return f"fineweb10B_{variant}"
    raise PgolfError(f"--variant: expected sp<VOCAB>[_suffix] or byte260, got {variant!r}")


def check_against_entry(manifest: Path, entry: dict, got: dict, vocab: int | None) -> None:
    """A directory's shard counts against its challenge-manifest entry (stale manifests are caught here)."""
    stats = entry.get("stats") or {}
    if "tokens_val" in stats and int(stats["tokens_val"]) != got["val_tokens"]:
        raise PgolfError(f"{manifest}: {entry.get('name')} should have {int(stats['tokens_val']):,} val tokens, the "
                         f"directory has {got['val_tokens']:,} — stale manifest or incomplete val split")
    if "files_val" in stats and int(stats["files_val"]) != got["val_files"]:
        raise PgolfError(f"{manifest}: {entry.get('name')} lists {stats['files_val']} val shards, the directory "
                         f"has {got['val_files']} — stale manifest or incomplete val split")
    if "files_train" in stats and got["train_files"] > int(stats["files_train"]):
        raise PgolfError(f"{manifest}: {entry.get('name')} lists {stats['files_train']} train shards, the "
                         f"directory has {got['train_files']} — stale manifest")
    if vocab is not None and entry.get("vocab_size") not in (None, vocab):
        raise PgolfError(f"{manifest}: {entry.get('name')} was tokenized with vocab {entry['vocab_size']}, "
                         f"not {vocab}")


def check_published_val(variant: str, repo: str, val_tokens: int) -> str:
    v = VARIANTS.get(variant)
    if v is None or v.repo != repo:
        return "no published figure for this variant/repo"
    T, want = v.val_trimmed
    got = (val_tokens - 1) // T * T
    if got != want:
        raise PgolfError(f"{variant} from {repo}: val holds {val_tokens:,} tokens ({got:,} at T={T}); published runs "
                         f"used {want:,} ({v.source}) — not the canonical val split")
    return f"matches the published {want:,} at T={T}"


def fetch_fineweb(variant: str, root: Path, train_shards: int | None = None, repo: str | None = None,
                  remote_root: str = "datasets", endpoint: str | None = None, revision: str = "main",
                  hub=None, log=print, progress: bool = True) -> dict:
    root = Path(root)
    variant = ALIASES.get(variant, variant)
    repo = repo or (VARIANTS[variant].repo if variant in VARIANTS else "willdepueoai/parameter-golf")
    name = dataset_name(variant)
    hub = hub or make_hub(repo, endpoint, revision)
    log(f"fineweb: {variant} from {hub.name} (remote root {remote_root!r}) → {root}")
    pre = f"{remote_root}/" if remote_root else ""
    record_path = root / RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    known = record.get("files", {}) if record.get("repo") == repo else {}

    top = hub.list(remote_root)
    mf = top.get(f"{pre}manifest.json")
    if mf is None:
        raise PgolfError(f"{pre}manifest.json: not found on {hub.name} (wrong --repo or remote root?)")
    local_manifest = root / "manifest.json"
    stale = local_manifest.is_file() and (record.get("repo") != repo or
                                          known.get("manifest.json", {}).get("sha256") != (mf.sha256 or mf.git_oid))
    if stale:
        log(f"fineweb: {local_manifest} is stale (from {record.get('repo', 'an unknown source')}); replacing it and "
            f"re-verifying every file by checksum")
        known = {}
        local_manifest.unlink()
    bar = ByteProgress("fineweb", 0, enabled=progress)
    download(hub, mf, local_manifest, bar, known.get("manifest.json"))
    manifest = json.loads(local_manifest.read_text(encoding="utf-8"))
    names = [d.get("name") for d in manifest.get("datasets", [])]
    entry = next((d for d in manifest.get("datasets", []) if d.get("name") == name), None)
    if entry is None:
        raise PgolfError(f"{local_manifest}: no dataset {name} in {repo} (it has: {', '.join(map(str, names))})")
    stats = entry.get("stats") or {}
    n_val, n_train_all = int(stats.get("files_val", 0)), int(stats.get("files_train", 0))
    if train_shards is None:
        train_shards = min(80, n_train_all)
    if not 0 <= train_shards <= n_train_all:
        raise PgolfError(f"--train-shards {train_shards}: {name} on {repo} has {n_train_all} train shards")

    folder = f"{pre}datasets/{name}"
    listing = hub.list(folder)
    wanted = [f"fineweb_val_{i:06d}.bin" for i in range(n_val)]
    if "caseops" in variant and not entry.get("val_bytes_glob"):
        raise PgolfError(f"{local_manifest}: {name} is CaseOps data but lists no val byte sidecar (val_bytes_glob) "
                         f"— it could not be scored")
    if entry.get("val_bytes_glob"):
        wanted += [f"fineweb_val_bytes_{i:06d}.bin" for i in range(n_val)]
    wanted += [f"fineweb_train_{i:06d}.bin" for i in range(train_shards)]
    files = []
    for f in wanted:
        if f"{folder}/{f}" not in listing:
            raise PgolfError(f"{folder}/{f}: listed by the manifest but missing on {hub.name}")
        files.append(listing[f"{folder}/{f}"])
    tok = next((t for t in manifest.get("tokenizers", []) if t.get("name") == entry.get("tokenizer_name")), {})
    for key in ("model_path", "vocab_path", "path"):
        if tok.get(key):
            sub = f"{pre}{tok[key]}"
            found = hub.list(sub.rpartition("/")[0]).get(sub)
            if found is None:
                raise PgolfError(f"{sub}: tokenizer file listed by the manifest but missing on {hub.name}")
            files.append(found)
    bar.total = sum(f.size or 0 for f in files)
    t0, counts, new_known = time.perf_counter(), {}, {"manifest.json": {"size": mf.size, "sha256": mf.sha256 or mf.git_oid}}
    try:
        for f in files:
            rel = f.path[len(pre):]
            what = download(hub, f, root / rel, bar, known.get(rel))
            counts[what] = counts.get(what, 0) + 1
            new_known[rel] = {"size": f.size, "sha256": f.sha256 or f.git_oid}
            bar.set(files=sum(counts.values()))
    finally:
        bar.done()
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps({"repo": repo, "revision": revision, "source": hub.name,
                                           "files": {**known, **new_known}}, indent=2))
    data_dir = root / "datasets" / name
    val_tokens = sum(read_header(data_dir / f"fineweb_val_{i:06d}.bin") for i in range(n_val))
    train_tokens = sum(read_header(data_dir / f"fineweb_train_{i:06d}.bin") for i in range(train_shards))
    check_against_entry(local_manifest, entry, {"val_tokens": val_tokens, "val_files": n_val,
                                                "train_files": train_shards}, None)
    published = check_published_val(variant, repo, val_tokens)
    side = ""
    if entry.get("val_bytes_glob"):
        side = f" | val byte sidecar {int(load_sidecar(data_dir).sum(dtype=np.int64)):,} bytes"
    log(f"fineweb: {counts} in {time.perf_counter() - t0:.1f} s | val {val_tokens:,} tokens ({published}){side} | "
        f"train {train_shards} shards, {train_tokens:,} tokens | {data_dir}")
    return {"dir": str(data_dir), "val_tokens": val_tokens, "train_tokens": train_tokens, "files": counts,
            "sidecar": bool(side),
            "published_val_check": published, "tokenizer": [str(root / f.path[len(pre):]) for f in files
                                                            if "/tokenizers/" in f"/{f.path}"]}
