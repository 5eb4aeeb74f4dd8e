"""`pgolf eval ARTIFACT --data DIR --tokenizer FILE [--seq-len N] [--stride N] [--json]`."""

from __future__ import annotations

import time
from pathlib import Path

from pgolf.commands import print_json
from pgolf.errors import PgolfError


def cmd_eval(args) -> int:
    import numpy as np
    import torch

    from pgolf.artifact.model_file import load_model
    from pgolf.data.shards import load_split
    from pgolf.data.tokenizer import byte_luts, check_vocab, load_sentencepiece
    from pgolf.eval.bpb import DeviceLUT
    from pgolf.eval.run import evaluate
    from pgolf.eval.standard import trim_val
    from pgolf.runtime.dist import init_runtime, shutdown

    T = args.seq_len
    if T <= 0:
        raise PgolfError(f"--seq-len: expected a positive integer, got {T}")
    if args.stride < 0 or args.stride > T:
        raise PgolfError(f"--stride: expected 0..{T} (0 = non-overlapping), got {args.stride}")
    t0 = time.perf_counter()
    rt = init_runtime(args.device)
    model, info = load_model(Path(args.artifact), rt.device)
    t_load = time.perf_counter() - t0
    sp = load_sentencepiece(args.tokenizer)
    check_vocab(sp, model.cfg.vocab_size, args.tokenizer)
    val = trim_val(np.asarray(load_split(Path(args.data), "val", model.cfg.vocab_size)), T, args.max_tokens)
    lut = DeviceLUT(byte_luts(sp, model.cfg.vocab_size), rt.device)
    t1 = time.perf_counter()
    with torch.no_grad():
        r = evaluate(model, val, T, args.stride, args.batch_tokens, lut, rt)
    t_eval = time.perf_counter() - t1
    out = {**r.to_dict(), "seq_len": T, "stride": args.stride or T, "model_bytes": info["file_bytes"],
           "codec": info["codec"], "decompress_seconds": info["decompress_seconds"], "load_seconds": t_load,
           "eval_seconds": t_eval, "total_seconds": time.perf_counter() - t0, "partial": bool(args.max_tokens)}
    if rt.is_main:
        if args.json:
            print_json(out)
        else:
            print(f"val_bpb {r.val_bpb:.6f} | val_loss {r.val_loss:.6f} | {r.scored_tokens:,} tokens, "
                  f"{r.scored_bytes:,} bytes | {out['total_seconds']:.1f} s")
    shutdown(rt)
    return 0


def register(sub) -> None:
    e = sub.add_parser("eval", help="score an artifact on a val split (val_bpb with the challenge's byte accounting)")
    e.add_argument("artifact")
    e.add_argument("--data", required=True)
    e.add_argument("--tokenizer", required=True)
    e.add_argument("--seq-len", type=int, default=1024)
    e.add_argument("--stride", type=int, default=0, help="sliding-window stride (0 = non-overlapping windows)")
    e.add_argument("--batch-tokens", type=int, default=65_536)
    e.add_argument("--max-tokens", type=int, default=0, help="score only a prefix of the val stream (0 = all)")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_eval)
