"""pgolf's CaseOps transform against the reference shipped with PR #1729, document by document.

The reference `lossless_caps.py` (openai/parameter-golf, records/track_10min_16mb/2026-04-18_PR1626_CaseOps_Taper,
the record of #1729) is extracted at run time from a local git mirror into .cache/pr1729/ (git-ignored; never
committed) and imported from there. Over every proxy val document (../shared/data/gutenberg_docs_val.jsonl.xz) it
compares:
* the transform: pgolf.data.caseops.encode(doc) vs `encode_lossless_caps_v2(doc)` (the caseops_v1 alias),
* the inverse: pgolf's decode vs `decode_lossless_caps_v2` on the encoded text (and both give back the document),
* with `--tokenizer` (a CaseOps model, e.g. the proxy's): per-token byte counts, pgolf.data.caseops_tokenizer vs
  `surface_piece_original_byte_counts` applied to the same pieces' surfaces (the input span of each piece).
It prints the number of differing documents for each (must be 0) and exits 1 otherwise.

    PYTHONPATH=src python benchmarks/caseops_reference.py \
        --tokenizer /work/caseops_proxy/tokenizers/sp8192_caseops.model
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import lzma
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records_mirror import show_to  # noqa: E402  (benchmarks/ is not a package)

from pgolf.data.caseops import decode, encode
from pgolf.data.caseops_tokenizer import token_bytes
from pgolf.data.tokenizer import load_sentencepiece

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")
REF = "main:records/track_10min_16mb/2026-04-18_PR1626_CaseOps_Taper/lossless_caps.py"


def load_reference(mirror: Path, ref: str):
    dest = show_to(mirror, ref, ROOT / ".cache" / "pr1729" / "lossless_caps.py")
    spec = importlib.util.spec_from_file_location("pr1729_lossless_caps", dest)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "data" / "gutenberg_docs_val.jsonl.xz")
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--ref", default=REF, help="git object of #1729's lossless_caps.py in the mirror")
    ap.add_argument("--tokenizer", type=Path, help="a CaseOps SentencePiece model: also compare per-token bytes")
    a = ap.parse_args()
    ref = load_reference(a.mirror, a.ref)
    with lzma.open(a.docs, "rt", encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f]
    enc_diff = dec_diff = trip_fail = byte_diff = tokens = 0
    sp = load_sentencepiece(a.tokenizer) if a.tokenizer else None
    for d in docs:
        mine, theirs = encode(d), ref.encode_lossless_caps_v2(d)
        enc_diff += mine != theirs
        back = decode(theirs)
        dec_diff += back != ref.decode_lossless_caps_v2(theirs)
        trip_fail += back != d
        if sp is not None:
            (ids, counts), = token_bytes(sp, [theirs])
            offs = sp.encode(theirs, out_type="offset_mapping")["offsets"]
            want = ref.surface_piece_original_byte_counts([theirs[b:e] for b, e in offs],
                                                          text_transform_name="lossless_caps_caseops_v1")
            byte_diff += not np.array_equal(counts, np.asarray(want))
            tokens += len(ids)
    print(f"caseops vs #1729 reference on {len(docs):,} docs of {a.docs}: transform differs on {enc_diff} | inverse "
          f"differs on {dec_diff} | round trip fails on {trip_fail}"
          + (f" | per-token bytes differ on {byte_diff} ({tokens:,} tokens, {a.tokenizer.name})" if sp else ""))
    return 0 if enc_diff == dec_diff == trip_fail == byte_diff == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
