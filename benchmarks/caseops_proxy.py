"""Build the CaseOps SP8192 proxy and the plain SP8192 proxy from the same Gutenberg documents, and compare them.

Inputs: ../shared/data/gutenberg_docs_{train,val}.jsonl.xz (2,342 val documents, 36,864 train documents). Two
SentencePiece BPE tokenizers of vocab 8192 are trained with the challenge's settings on the same first
`--tokenizer-docs` train documents — one plain, one CaseOps (documents transformed, operators at ids 4–7; #1729) —
then `pgolf data build` exports, for each, val = all 2,342 val documents and train = the train documents cut at
`--train-tokens` tokens (the CaseOps build also writes the val byte sidecar). A subset keeps this to minutes on a
shared 2-core machine; the defaults are printed with the results.

Printed per tokenization: val tokens, scored targets and scored bytes at T (the bytes an evaluation divides by:
the byte look-up tables for plain, Σ sidecar for CaseOps), bytes/token, and the val documents' UTF-8 bytes. For
CaseOps it also checks, on every val document, decode(encode(doc)) == doc and Σ sidecar bytes of the document ==
len(doc.encode("utf-8")), and prints the number of failures (must be 0).

    PYTHONPATH=src python benchmarks/caseops_proxy.py --out /work/caseops_proxy     # builds, then compares
    PYTHONPATH=src python benchmarks/caseops_proxy.py --out /work/caseops_proxy --compare-only
The result: OUT/tokenizers/{sp8192,sp8192_caseops}.model and OUT/datasets/{sp8192,sp8192_caseops}/ (shards, sidecar,
manifest.json), and OUT/summary.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import lzma
import sys
import time
from pathlib import Path

import numpy as np

from pgolf.data.build import build_corpus
from pgolf.data.caseops import decode, encode
from pgolf.data.caseops_tokenizer import TRAINER_OPTIONS, check_caseops_tokenizer
from pgolf.data.shards import load_split
from pgolf.data.sidecar import load_sidecar
from pgolf.data.sidecar_check import check_sidecar
from pgolf.data.tokenizer import byte_luts, load_sentencepiece, train_tokenizer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read_docs(path: Path, limit: int | None = None) -> list[str]:
    with lzma.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in itertools.islice(f, limit)]


def scored(data: Path, sp, T: int, caseops: bool) -> dict:
    val = load_split(data, "val")
    n = (val.size - 1) // T * T  # targets of the trimmed stream 1 + k·T, as every evaluation scores them
    if caseops:
        side = load_sidecar(data).astype(np.int64)
        nbytes, all_bytes = int(side[1 : n + 1].sum()), int(side.sum())
    else:
        lut = byte_luts(sp)
        t = val.astype(np.int64)
        per = lut.base_bytes[t[1:]] + (lut.has_space[t[1:]] & ~lut.is_boundary[t[:-1]])
        nbytes, all_bytes = int(per[:n].sum()), int(per.sum())
    return {"val_tokens": int(val.size), "scored_targets": n, "scored_bytes": nbytes, "all_val_bytes": all_bytes,
            "bytes_per_token": all_bytes / (val.size - 1)}


def per_doc_checks(data: Path, sp, docs: list[str]) -> dict:
    val = load_split(data, "val").astype(np.int64)
    side = load_sidecar(data).astype(np.int64)
    starts = np.append(np.flatnonzero(val == sp.bos_id()), val.size)
    assert starts.size - 1 == len(docs), (starts.size - 1, len(docs))
    trip = sum(decode(encode(d)) != d for d in docs)
    sums = [int(side[a:b].sum()) for a, b in zip(starts[:-1], starts[1:])]
    bad = sum(s != len(d.encode("utf-8")) for s, d in zip(sums, docs))
    return {"round_trip_failures": trip, "docs_sidecar_sum_mismatch": bad, "docs": len(docs),
            **check_sidecar(val, side, sp, data)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/work/caseops_proxy"))
    ap.add_argument("--shared", type=Path, default=SHARED, help="folder of gutenberg_docs_{train,val}.jsonl.xz")
    ap.add_argument("--tokenizer-docs", type=int, default=3000, help="first N train docs train both tokenizers")
    ap.add_argument("--train-tokens", type=int, default=4_000_000, help="train stream cap of each build")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--seq-len", type=int, default=2048, help="T of the scored-targets count")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--compare-only", action="store_true", help="skip training/building; compare an existing OUT")
    a = ap.parse_args()
    train_src, val_src = a.shared / "gutenberg_docs_train.jsonl.xz", a.shared / "gutenberg_docs_val.jsonl.xz"
    for p in (train_src, val_src):
        if not p.is_file():
            print(f"{p}: not found (pass --shared)", file=sys.stderr)
            return 2
    tok = {"sp8192": a.out / "tokenizers" / "sp8192", "sp8192_caseops": a.out / "tokenizers" / "sp8192_caseops"}
    data = {k: a.out / "datasets" / k for k in tok}
    val_docs = read_docs(val_src)
    timings = {}
    if not a.compare_only:
        sub = read_docs(train_src, a.tokenizer_docs)
        for name, caseops in (("sp8192", False), ("sp8192_caseops", True)):
            t0 = time.perf_counter()
            texts = [t.replace("\x00", " ").strip() for t in sub]
            texts = [encode(t) for t in texts if t] if caseops else [t for t in texts if t]
            kw = TRAINER_OPTIONS if caseops else {}
            train_tokenizer(texts, a.vocab, tok[name], num_threads=a.workers, **kw)
            timings[f"{name}_tokenizer_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            build_corpus([val_src, train_src], Path(f"{tok[name]}.model"), data[name], val_docs=len(val_docs),
                         train_tokens=a.train_tokens, workers=a.workers, force=True, caseops=caseops,
                         progress=False, shard_tokens=10**7)
            timings[f"{name}_build_s"] = time.perf_counter() - t0
    res = {"tokenizer_docs": a.tokenizer_docs, "train_tokens_cap": a.train_tokens, "val_docs": len(val_docs),
           "val_docs_utf8_bytes": sum(len(d.encode("utf-8")) for d in val_docs), "T": a.seq_len, **timings}
    for name in tok:
        sp = load_sentencepiece(f"{tok[name]}.model")
        caseops = name.endswith("caseops")
        if caseops:
            check_caseops_tokenizer(sp, f"{tok[name]}.model")
        res[name] = scored(data[name], sp, a.seq_len, caseops)
        if caseops:
            res[name].update(per_doc_checks(data[name], sp, val_docs))
    p, c = res["sp8192"], res["sp8192_caseops"]
    res["caseops_extra_tokens"] = c["val_tokens"] / p["val_tokens"] - 1
    (a.out / "summary.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"proxy: {res['val_docs']:,} val docs, {res['val_docs_utf8_bytes']:,} UTF-8 bytes | tokenizers trained on "
          f"the first {a.tokenizer_docs:,} train docs | train stream cut at {a.train_tokens:,} tokens | {a.out}")
    for name in tok:
        r = res[name]
        print(f"{name:15s} val tokens {r['val_tokens']:,} | scored {r['scored_targets']:,} targets at T={a.seq_len}, "
              f"{r['scored_bytes']:,} bytes | all val targets {r['all_val_bytes']:,} bytes, "
              f"{r['bytes_per_token']:.4f} bytes/token")
    print(f"caseops: {res['caseops_extra_tokens']:+.2%} val tokens | round-trip failures {c['round_trip_failures']} | "
          f"docs whose Σ sidecar ≠ UTF-8 length {c['docs_sidecar_sum_mismatch']} of {c['docs']:,} | sidecar "
          f"{c['sidecar_bytes']:,} vs tokenizer tables {c['tokenizer_bytes']:,} bytes | plain tables "
          f"{p['all_val_bytes']:,} bytes ({p['all_val_bytes'] / c['all_val_bytes'] - 1:+.4%} vs sidecar)")
    return 0 if c["round_trip_failures"] == 0 and c["docs_sidecar_sum_mismatch"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
