"""LQER on a trained tiny model: round-trip val_bpb and artifact bytes with and without the low-rank correction.

    python benchmarks/lqer.py --data ../shared/data/gutenberg_sp1024 \
        --tokenizer ../shared/tokenizers/fineweb_1024_bpe.model [--iterations 300] [--artifact RUN/model.pga]

Trains the `tiny` recipe (4 layers × d 128, seq 256) for a fixed number of steps on the proxy corpus and exports it
with fp16 passthrough (or reuses --artifact, such an fp16 export), then re-quantizes the SAME weights with each
policy (RTN; `--gptq` adds GPTQ with self-generated calibration) without LQER and with each LQER setting, and scores
each round trip on the first --eval-tokens val tokens (non-sliding). Prints a table: policy, LQER setting, corrected
tensors, round-trip bpb, its delta to no-LQER, model bytes and the delta. Proxy figures only: they must never be
compared with FineWeb ones, and at tiny size the ranking of matrices by ‖E‖_F differs from the full-size model's.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pgolf.artifact.model_file import encode_model, load_artifact
from pgolf.config import Config, QuantRule, override
from pgolf.data.shards import load_split
from pgolf.data.tokenizer import load_sentencepiece
from pgolf.eval.accounting import describe, val_accounting
from pgolf.eval.run import evaluate_config
from pgolf.eval.standard import trim_val
from pgolf.model.gpt import GPT
from pgolf.recipes import get_recipe
from pgolf.runtime.dist import init_runtime

SETTINGS = {"none": None, "r4 top3 g64": dict(rank=4, top_k=3, b_group=64),
            "r4 top3 g32": dict(rank=4, top_k=3, b_group=32), "r8 top6 g64": dict(rank=8, top_k=6, b_group=64)}


def train(a) -> Path:
    from pgolf.train.run import run

    cfg = override(get_recipe("tiny").build(), {
        "data.path": str(a.data), "data.tokenizer": str(a.tokenizer), "train.iterations": a.iterations,
        "train.max_wallclock_seconds": 0.0, "schedule.warmdown_iters": max(1, a.iterations // 3),
        "schedule.warmdown_mode": "iterations", "train.batch_tokens": 8 * 256, "train.device": "cpu",
        "eval.max_tokens": a.eval_tokens, "quant.keep_float_max_numel": 1 << 30})  # fp16 export: the float weights
    out = a.out / "train"
    s = run(cfg, out, recipe="tiny", echo=False)
    print(f"# trained tiny: {s['steps']} steps, {s['train_seconds']:.0f} s, pre-quant bpb {s['val_bpb_prequant']:.4f}",
          file=sys.stderr, flush=True)
    return out / "model.pga"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--eval-tokens", type=int, default=131_072)
    ap.add_argument("--artifact", type=Path, help="an fp16 tiny export to reuse instead of training")
    ap.add_argument("--policies", nargs="+", default=["pr1473", "pr295", "int4"],
                    help="seed tables, or int4: pr1473 with attn/MLP matrices at int4 sdclip k=4 (a larger tax)")
    ap.add_argument("--gptq", action="store_true", help="GPTQ with self-generated calibration instead of RTN")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/lqer_bench"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    path = a.artifact or train(a)
    mcfg, state, _ = load_artifact(path)
    rt = init_runtime("cpu")
    sp = load_sentencepiece(a.tokenizer)
    T = 256
    val = trim_val(np.asarray(load_split(a.data, "val", mcfg.vocab_size)), T, a.eval_tokens)
    lut = val_accounting(a.data, sp, mcfg.vocab_size, val, rt.device, a.tokenizer)  # sidecar when the data has one
    print(f"# {describe(lut)}", file=sys.stderr, flush=True)
    base = override(Config(), {"eval.max_tokens": a.eval_tokens, "eval.stride": 0, "eval.batch_tokens": 8192,
                               "quant.keep_float_max_numel": 4096, "artifact.codec": "lzma",
                               "artifact.storage": "packed"})
    base = replace(base, model=mcfg)
    model = GPT(mcfg)
    model.load_state_dict(state)
    ref = evaluate_config(model, val, base.eval, T, lut, rt, with_ttt=False)[0].val_bpb
    hessians = None
    if a.gptq:
        from pgolf.quant.calibrate import calibrate

        gcfg = override(base, {"quant.gptq.calibration": "generated", "quant.gptq.batches": 4,
                               "quant.gptq.gen_seq_len": T})
        hessians = calibrate(model, gcfg.quant.gptq, None, torch.device("cpu"), batch_tokens=gcfg.train.batch_tokens, seq_len=gcfg.train.seq_len, seed=gcfg.train.seed)
    rows = []
    for pol in a.policies:
        none_bpb = none_bytes = None
        for tag, lq in SETTINGS.items():
            cfg = override(base, {"quant.policy": "pr1473" if pol == "int4" else pol,
                                  **({"quant.gptq": "on"} if a.gptq else {})})
            if pol == "int4":
                rules = tuple(QuantRule(p, "int", bits=4, clip="sdclip", clip_value=4.0, min_numel=4097)
                              for p in ("*.mlp.*", "*.attn.*"))
                cfg = replace(cfg, quant=replace(cfg.quant, rules=rules))
            if lq is not None:
                cfg = override(cfg, {f"quant.lqer.{k}": v for k, v in lq.items()})
            t0 = time.perf_counter()
            lines: list[str] = []
            blob, info, deq = encode_model(state, cfg.model, cfg.quant, cfg.artifact, hessians, log=lines.append)
            for line in lines if tag == "r4 top3 g64" else []:
                print(f"#   {pol}: {line}", file=sys.stderr)
            enc_s = time.perf_counter() - t0
            model.load_state_dict(deq)
            bpb = evaluate_config(model, val, cfg.eval, T, lut, rt, with_ttt=False)[0].val_bpb
            if lq is None:
                none_bpb, none_bytes = bpb, len(blob)
            lz = info.get("lqer", {})
            rows.append((pol + (" gptq" if a.gptq else ""), tag, len(lz.get("tensors", [])), bpb, bpb - none_bpb,
                         len(blob), len(blob) - none_bytes, lz.get("compressed_bytes", 0), enc_s))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"proxy: tiny {mcfg.num_layers}L × d{mcfg.model_dim}, {a.eval_tokens:,} val tokens, "
          f"float (fp16 export) bpb {ref:.4f}; storage packed, codec lzma")
    print("| policy | LQER | corrected | round-trip bpb | Δ bpb | model bytes | Δ bytes | factors alone (lzma) | "
          "encode s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p, tag, n, bpb, d, nb, db, fb, s in rows:
        print(f"| {p} | {tag} | {n} | {bpb:.5f} | {d:+.5f} | {nb:,} | {db:+,} | {fb:,} | {s:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
