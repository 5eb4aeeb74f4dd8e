"""The canonical val/train split of the challenge's FineWeb documents, enforced at build time (issue #2127).

The rule: the challenge's export (openai/parameter-golf data/download_hf_docs_and_tokenize.py) makes the FIRST
50,000 documents of `docs_selected.jsonl` the val split and everything after them train. #1729's
`prepare_caseops_data.py` defaulted to `--val-docs 10000`; rebuilding with that default put documents
10,000–49,999 — 80% of the official val set — into training (fingerprint `train_shards: 1499` in a log), and PRs
#2018 and #2130 were excluded for it (SPEC_FRONTIER.md §1.2, caveat 1).

So: when an input is the challenge's FineWeb document file (named `docs_selected*.jsonl[.*]`, or with the exporter's
`docs_selected.source_manifest.json` beside it), a val count other than 50,000 is refused unless the caller says
`noncanonical_val`, and the manifest records which split was used. Any other corpus may use any count. Independently,
every build refuses a train document whose text equals a val document's (pgolf.data.build, blake2b-128).
"""

from __future__ import annotations

from pathlib import Path

from pgolf.errors import PgolfError

FINEWEB_VAL_DOCS = 50_000
SOURCE_MANIFEST = "docs_selected.source_manifest.json"


def is_challenge_fineweb(path: Path) -> bool:
    path = Path(path)
    return path.name.startswith("docs_selected") or (path.parent / SOURCE_MANIFEST).is_file()


def check_split(docs: list[Path], val_docs: int, noncanonical_val: bool) -> dict:
    """→ the manifest's `split` record; PgolfError for a non-canonical FineWeb val count without the flag."""
    fineweb = [str(p) for p in docs if is_challenge_fineweb(p)]
    canonical = not fineweb or val_docs == FINEWEB_VAL_DOCS
    if not canonical and not noncanonical_val:
        raise PgolfError(f"--val-docs {val_docs}: {fineweb[0]} holds the challenge's FineWeb documents, whose val "
                         f"split is the first {FINEWEB_VAL_DOCS:,} (another count moves val documents into train, "
                         f"issue #2127); pass --noncanonical-val to build it anyway")
    return {"val_docs": val_docs, "fineweb_inputs": fineweb,
            "canonical": canonical if fineweb else None, "noncanonical_val_flag": bool(noncanonical_val)}
