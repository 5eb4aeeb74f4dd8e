"""Full check: `pgolf data build` reproduces ../shared/data/gutenberg_sp1024 token for token from the text.

The proxy corpus is the [BOS]+doc stream of gutenberg_docs_val.jsonl.xz cut at 4,000,000 tokens (val) followed by
the stream of gutenberg_docs_train.jsonl.xz cut at 20,000,000 tokens in 10,000,000-token shards (train). This runs

    pgolf data build --docs VAL TRAIN --tokenizer fineweb_1024_bpe.model --val-docs 2342 \\
        --val-tokens 4000000 --train-tokens 20000000 --shard-tokens 10000000 --out OUT

and compares every shard byte for byte. Usage: python benchmarks/data_reproduce_proxy.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents
    ap.add_argument("--shared", type=Path, default=next((p / "shared" for p in here[1:4] if (p / "shared").is_dir()),
                                                         here[1] / "shared"), help="default: ../shared")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    s = args.shared
    ref = s / "data" / "gutenberg_sp1024"
    out = Path(tempfile.mkdtemp(prefix="pgolf-proxy-")) / "gutenberg_sp1024"
    cmd = [sys.executable, "-m", "pgolf", "data", "build", "--docs", str(s / "data" / "gutenberg_docs_val.jsonl.xz"),
           str(s / "data" / "gutenberg_docs_train.jsonl.xz"), "--tokenizer",
           str(s / "tokenizers" / "fineweb_1024_bpe.model"), "--val-docs", "2342", "--val-tokens", "4000000",
           "--train-tokens", "20000000", "--shard-tokens", "10000000", "--workers", str(args.workers),
           "--out", str(out), "--no-progress"]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    dt = time.perf_counter() - t0
    ok = True
    for name in ("fineweb_val_000000.bin", "fineweb_train_000000.bin", "fineweb_train_000001.bin"):
        same = (out / name).read_bytes() == (ref / name).read_bytes()
        ok &= same
        print(f"{name}: {'identical' if same else 'DIFFERENT'}")
    extra = sorted(p.name for p in out.glob("fineweb_*.bin") if not (ref / p.name).exists())
    print(f"extra shards: {extra or 'none'} | build {dt:.1f} s (24,000,000 tokens written)")
    shutil.rmtree(out.parent, ignore_errors=True)
    raise SystemExit(0 if ok and not extra else 1)


if __name__ == "__main__":
    main()
