"""GPTQ on the tied embedding (#1394), int7 SDClip embeddings (#1586/#1855) and AWQ-lite (#1908) on a trained tiny
model: round-trip val_bpb and artifact bytes of each export option on the SAME weights.

    python benchmarks/embquant.py --data ../shared/data/gutenberg_sp1024 \
        --tokenizer ../shared/tokenizers/fineweb_1024_bpe.model [--iterations 200] [--artifact RUN/model.pga]

Trains the `tiny` recipe (4 layers × d 128, seq 256) for a fixed number of steps and exports it with fp16
passthrough (or reuses --artifact, such an fp16 export), collects GPTQ Hessians once from self-generated sequences
(the embedding's from the LM head's inputs), then re-quantizes the weights under the `pr1855` table (and pr1473 for
reference) with each option and scores each round trip on the first --eval-tokens val tokens (non-sliding). Prints a
table: export, tok_emb method/bits, AWQ groups, round-trip bpb, Δ vs the first row of its table, model bytes, Δ, and
the AWQ arrays' compressed bytes. Proxy figures only (a 1024 × 128 embedding, tiny matrices): never compare with
FineWeb ones.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pgolf.artifact.model_file import encode_model, load_artifact
from pgolf.config import Config, override
from pgolf.data.shards import load_split
from pgolf.data.tokenizer import load_sentencepiece
from pgolf.eval.accounting import describe, val_accounting
from pgolf.eval.run import evaluate_config
from pgolf.eval.standard import trim_val
from pgolf.model.gpt import GPT
from pgolf.quant.calibrate import calibrate

ROWS = [  # (label, overrides); the embedding Hessian is dropped unless quant.gptq.embeddings is on
    ("pr1473 gptq", {"quant.policy": "pr1473"}),
    ("pr1473 gptq + emb gptq", {"quant.policy": "pr1473", "quant.gptq.embeddings": True}),
    ("pr1855 gptq (emb RTN int7)", {}),
    ("pr1855 gptq + emb gptq", {"quant.gptq.embeddings": True}),
    ("pr1855 + emb gptq + awq matrix top1", {"quant.gptq.embeddings": True, "quant.awq.scope": "matrix"}),
    ("pr1855 + emb gptq + awq model top1", {"quant.gptq.embeddings": True, "quant.awq.scope": "model"}),
]


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from lqer import train  # the same fp16 tiny training as the LQER benchmark

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--eval-tokens", type=int, default=131_072)
    ap.add_argument("--artifact", type=Path, help="an fp16 tiny export to reuse instead of training")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/embquant_bench"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.artifact or train(a)
    mcfg, state, _ = load_artifact(path)
    from pgolf.runtime.dist import init_runtime

    rt = init_runtime("cpu")
    T = 256
    val = trim_val(np.asarray(load_split(a.data, "val", mcfg.vocab_size)), T, a.eval_tokens)
    lut = val_accounting(a.data, load_sentencepiece(a.tokenizer), mcfg.vocab_size, val, rt.device,
                         a.tokenizer)  # the scorer's bytes: the sidecar when the data has one
    print(f"# {describe(lut)}", file=sys.stderr, flush=True)
    base = override(Config(), {"eval.max_tokens": a.eval_tokens, "eval.stride": 0, "eval.batch_tokens": 8192,
                               "quant.keep_float_max_numel": 4096, "artifact.codec": "lzma",
                               "artifact.storage": "packed", "quant.policy": "pr1855",
                               "quant.gptq.calibration": "generated", "quant.gptq.batches": 4,
                               "quant.gptq.gen_seq_len": T, "quant.gptq.embeddings": True})
    base = replace(base, model=mcfg)
    model = GPT(mcfg)
    model.load_state_dict(state)
    ref = evaluate_config(model, val, base.eval, T, lut, rt, with_ttt=False)[0].val_bpb
    H_all = calibrate(model, base.quant.gptq, None, torch.device("cpu"), batch_tokens=base.train.batch_tokens, seq_len=base.train.seq_len, seed=base.train.seed)
    out = []
    for label, ov in ROWS:
        cfg = override(base, {"quant.gptq.embeddings": False, **ov})
        H = H_all if cfg.quant.gptq.embeddings else {k: v for k, v in H_all.items() if k != "tok_emb.weight"}
        lines: list[str] = []
        blob, info, deq = encode_model(state, cfg.model, cfg.quant, cfg.artifact, H, log=lines.append)
        model.load_state_dict(deq)
        bpb = evaluate_config(model, val, cfg.eval, T, lut, rt, with_ttt=False)[0].val_bpb
        from pgolf.artifact.pack import read_file

        (a.out / "tmp.pga").write_bytes(blob)
        _, meta, _ = read_file(a.out / "tmp.pga")
        from pgolf.artifact.size import breakdown

        awq_bytes = breakdown(a.out / "tmp.pga")["groups"]["awq"]["compressed_bytes"]
        e = meta["tensors"]["tok_emb.weight"]
        n_awq = sum(1 for i in meta["tensors"].values() if i.get("awq"))
        out.append((label, f"{e['method']} int{e['bits']}", n_awq, bpb, len(blob), awq_bytes))
        print(out[-1], *lines, sep="\n# ", file=sys.stderr, flush=True)
    print(f"proxy: tiny {mcfg.num_layers}L × d{mcfg.model_dim}, vocab {mcfg.vocab_size}, {a.eval_tokens:,} val "
          f"tokens, float (fp16 export) bpb {ref:.4f}; GPTQ on 4×8 self-generated sequences; packed + lzma")
    print("| export | tok_emb | AWQ matrices | round-trip bpb | Δ bpb | model bytes | Δ bytes | AWQ arrays (lzma) |")
    print("|---|---|---|---|---|---|---|---|")
    first = {}
    for label, emb, n, bpb, nb, ab in out:
        f = first.setdefault(label.split()[0], (bpb, nb))
        print(f"| {label} | {emb} | {n} | {bpb:.5f} | {bpb - f[0]:+.5f} | {nb:,} | {nb - f[1]:+,} | {ab:,} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
