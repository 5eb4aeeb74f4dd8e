"""`pgolf data build` vs the public exporter's tokenize-and-write path, same documents, same tokenizer, same cores.

The public side is `export_shards()` of openai/parameter-golf data/download_hf_docs_and_tokenize.py (SentencePiece
batch encode of 1,024 docs with num_threads = all cores, then per-document numpy packing and shard writes), fed the
tokenizer through its own `build_sentencepiece_tokenizer(reuse_model_path=…)`. The script is NOT part of pgolf:
fetch it to /tmp first (it is imported from there; huggingface_hub is stubbed if missing, it is not used):

    git -C /work/.mirror/openai+parameter-golf/repo show HEAD:data/download_hf_docs_and_tokenize.py \\
        > /tmp/public_download_hf_docs_and_tokenize.py
    python benchmarks/data_build.py --public-script /tmp/public_download_hf_docs_and_tokenize.py \\
        --docs ../shared/data/gutenberg_docs_val.jsonl.xz --tokenizer ../shared/tokenizers/fineweb_1024_bpe.model

Both read the same decompressed .jsonl; runs alternate (public, pgolf, …) `--repeats` times and the best time of
each is reported, so a busy machine penalises both alike. The outputs are compared token for token. pgolf is also
timed on the compressed .xz input (decompression included).
"""

from __future__ import annotations

import argparse
import importlib.util
import lzma
import os
import resource
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np


def load_public(path: Path):
    if importlib.util.find_spec("huggingface_hub") is None:  # imported at module level, unused on this path
        hub = types.ModuleType("huggingface_hub")
        hub.hf_hub_download = None
        utils = types.ModuleType("huggingface_hub.utils")
        utils.EntryNotFoundError = Exception
        sys.modules.update({"huggingface_hub": hub, "huggingface_hub.utils": utils})
    spec = importlib.util.spec_from_file_location("public_exporter", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the build's worker processes)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def tokens_of(d: Path) -> np.ndarray:
    parts = [np.fromfile(p, "<u2", offset=1024) for split in ("val", "train")
             for p in sorted(d.glob(f"fineweb_{split}_*.bin"))]
    return np.concatenate(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--public-script", required=True, type=Path)
    ap.add_argument("--docs", required=True, type=Path, nargs="+", help=".jsonl.xz files of {'text': …} documents")
    ap.add_argument("--tokenizer", required=True, type=Path)
    ap.add_argument("--val-docs", type=int, default=500)
    ap.add_argument("--max-docs", type=int, default=0, help="use only the first N documents (0 = all)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    from pgolf.data.build import build_corpus

    public = load_public(args.public_script)
    work = Path(tempfile.mkdtemp(prefix="pgolf-bench-build-"))
    try:
        plain = work / "docs.jsonl"
        n = 0
        with open(plain, "wb") as dst:
            for path in args.docs:
                with lzma.open(path, "rb") as src:
                    for line in src:
                        if args.max_docs and n >= args.max_docs:
                            break
                        dst.write(line)
                        n += 1
        n_docs = public.count_docs(plain)
        tok = public.build_sentencepiece_tokenizer(
            spec={"vocab_size": 1024, "reuse_model_path": str(args.tokenizer)}, docs_jsonl=plain,
            tokenizers_dir=work / "tok")
        times: dict[str, list[float]] = {"public export_shards": [], "pgolf build (.jsonl)": [],
                                         "pgolf build (.jsonl.xz)": []}
        cpu: dict[str, list[float]] = {k: [] for k in times}
        outs = {}
        for _ in range(args.repeats):
            for name in times:
                out = work / name.replace(" ", "_").replace("(", "").replace(")", "")
                shutil.rmtree(out, ignore_errors=True)
                t0, c0 = time.perf_counter(), _cpu()
                if name.startswith("public"):
                    with open(os.devnull, "w") as null:
                        old, sys.stdout = sys.stdout, null
                        try:
                            public.export_shards(plain, tok, out, num_val_docs=args.val_docs, shard_size=10**8,
                                                 docs_total=n_docs)
                        finally:
                            sys.stdout = old
                else:
                    srcs = args.docs if name.endswith(".xz)") else [plain]
                    if args.max_docs and srcs == args.docs:
                        continue  # the .xz inputs hold more documents than the truncated plain file
                    build_corpus(srcs, args.tokenizer, out, args.val_docs, workers=args.workers,
                                 log=lambda *a: None, progress=False)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(_cpu() - c0)
                outs[name] = out
        ref = tokens_of(outs["public export_shards"])
        print(f"{n_docs:,} docs, {ref.size:,} tokens, {os.cpu_count()} cores, pgolf workers {args.workers}, "
              f"public TOKENIZER_THREADS {public.TOKENIZER_THREADS}, best of {args.repeats}")
        print(f"{'path':<26}{'best s':>8}{'median s':>10}{'M tok/s':>10}{'CPU s':>8}{'M tok/CPU-s':>13}  identical")
        for name, ts in times.items():
            if not ts:
                continue
            same = np.array_equal(tokens_of(outs[name]), ref)
            c = min(cpu[name])
            print(f"{name:<26}{min(ts):>8.2f}{sorted(ts)[len(ts) // 2]:>10.2f}{ref.size / min(ts) / 1e6:>10.3f}"
                  f"{c:>8.2f}{ref.size / c / 1e6:>13.3f}  {'yes' if same else 'NO'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
