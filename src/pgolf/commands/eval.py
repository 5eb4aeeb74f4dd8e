"""`pgolf eval ARTIFACT --data DIR --tokenizer FILE [--seq-len N] [--stride N] [--doc-aware]
[--ttt full|lora [key=value …]] [--rope-base B] [--json]`.

The eval length T (--seq-len) may differ from the training length. RoPE is never rescaled implicitly: positions
0..T−1 use the base in the artifact's model config, unless --rope-base sets another one for this evaluation; the
output's `rope` line says which.

`--ttt MODE key=value …` picks full-model or per-document LoRA test-time training and tunes it with keys of the
eval.ttt block (e.g. `--ttt lora lr=3e-4 lora.rank=16 chunk_tokens=128`; `pgolf recipes show` lists them).

Timing is end to end from the start of the command: `startup_seconds` (imports, runtime/process group),
`load_seconds` (read + decompress + dequantize + build the model; `decompress_seconds` is its decompression part),
`data_seconds` (val shards, tokenizer, byte tables), `warmup_seconds` (compile warm-up on random tokens, TTT's
training graphs included; 0 when eager), `eval_seconds` (the scoring pass, TTT included), and `total_seconds`
(everything; the parts sum to it up to the final bookkeeping).
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

import time
from pathlib import Path

from pgolf.commands import print_json
from pgolf.errors import PgolfError


def eval_config(args):
    """The EvalConfig the flags and eval.* words describe (validated at the eval length)."""
    from pgolf.config import Config, override, parse_overrides, validate_eval
    from pgolf.eval.ttt_lora import lora_preset

    T = args.seq_len
    if T <= 0:
        raise PgolfError(f"--seq-len: expected a positive integer, got {T}")
    if args.rope_base is not None and not args.rope_base > 0:
        raise PgolfError(f"--rope-base: expected a positive number, got {args.rope_base}")
    if args.stride < 0 or args.stride > T:
        raise PgolfError(f"--stride: expected 0..{T} (0 = non-overlapping), got {args.stride}")
    mode, *words = args.ttt or ["none"]
    if mode not in ("none", "full", "lora"):
        raise PgolfError(f"--ttt: expected none, full or lora first, got {mode!r}")
    if mode == "none" and words:
        raise PgolfError("--ttt: key=value words need a mode first (--ttt full … or --ttt lora …)")
    tuned = {k if k.startswith("eval.ttt.") else f"eval.ttt.{k}": v for k, v in parse_overrides(words).items()}
    base = {"eval.seq_len": T, "eval.stride": args.stride, "eval.doc_aware": args.doc_aware,
            "eval.batch_tokens": args.batch_tokens, "eval.max_tokens": args.max_tokens,
            "eval.compile": not args.no_compile}
    if mode == "full":
        base["eval.ttt"] = "on"
    elif mode == "lora":
        base["eval.ttt"] = lora_preset()
    return validate_eval(override(Config(), {**base, **tuned}).eval, T)


def cmd_eval(args) -> int:
    t0 = time.perf_counter()
    import numpy as np

    from pgolf.artifact.model_file import load_model
    from pgolf.config import to_dict
    from pgolf.data.shards import load_split
    from pgolf.data.tokenizer import byte_luts, check_vocab, load_sentencepiece
    from pgolf.eval.bpb import DeviceLUT
    from pgolf.eval.plan import sliding_plan
    from pgolf.eval.run import evaluate_config, model_bos, rank_batch
    from pgolf.eval.scorer import WindowScorer
    from pgolf.eval.sliding import rope_note, set_rope_base
    from pgolf.eval.standard import trim_val
    from pgolf.runtime.dist import init_runtime, shutdown

    e = eval_config(args)
    T = e.seq_len
    rt = init_runtime(args.device)
    t1 = time.perf_counter()
    t_start = t1 - t0
    model, info = load_model(Path(args.artifact), rt.device)
    if args.rope_base is not None:
        set_rope_base(model, args.rope_base)
    t_load = time.perf_counter() - t1
    t2 = time.perf_counter()
    sp = load_sentencepiece(args.tokenizer)
    check_vocab(sp, model.cfg.vocab_size, args.tokenizer)
    val = trim_val(np.asarray(load_split(Path(args.data), "val", model.cfg.vocab_size)), T, e.max_tokens)
    lut = DeviceLUT(byte_luts(sp, model.cfg.vocab_size), rt.device)
    t_data = time.perf_counter() - t2
    compile = e.compile and rt.is_cuda
    warm = 0.0
    if compile and e.ttt is None:  # compile every shape the pass uses, on random tokens, outside the timed pass
        model.eval()
        plan = sliding_plan(val, T, e.stride, e.doc_aware, model_bos(model))
        scorer = WindowScorer(model, T, rank_batch(e.batch_tokens, rt), rt.device, rt.autocast, compile=True)
        warm = scorer.warmup(scorer.shapes(plan), model.cfg.vocab_size, grad=False)
    t3 = time.perf_counter()
    r, ttt_stats = evaluate_config(model, val, e, T, lut, rt)
    t_eval = time.perf_counter() - t3
    if ttt_stats:  # TTT warms up its own graphs (scoring and training) before its pass
        warm += ttt_stats["warmup_seconds"]
        t_eval -= ttt_stats["warmup_seconds"]
    out = {**r.to_dict(), "seq_len": T, "stride": e.stride or T, "doc_aware": e.doc_aware, "ttt": ttt_stats,
           "eval_config": to_dict(e), "model_bytes": info["file_bytes"], "codec": info["codec"],
           "startup_seconds": t_start, "decompress_seconds": info["decompress_seconds"], "load_seconds": t_load,
           "data_seconds": t_data,
           "warmup_seconds": warm, "eval_seconds": t_eval, "total_seconds": time.perf_counter() - t0,
           "compile": compile, "device": rt.describe(), "world_size": rt.world_size,
           "partial": bool(e.max_tokens), "rope_base": float(model.cfg.rope_base),
           "rope": rope_note(model, T, overridden=args.rope_base is not None)}
    if rt.is_main:
        if args.json:
            print_json(out)
        else:
            mode = ("doc-aware " if e.doc_aware else "") + (f"stride {e.stride}" if e.stride else "standard")
            if e.ttt is not None and e.ttt.lora is not None:
                mode = f"per-document LoRA TTT, chunks of {e.ttt.chunk_tokens} (doc-aware by construction)"
            elif e.ttt is not None:
                mode += f" + full-model TTT, chunks of {e.ttt.chunk_tokens}"
            print(f"val_bpb {r.val_bpb:.6f} | val_loss {r.val_loss:.6f} | {r.scored_tokens:,} tokens, "
                  f"{r.scored_bytes:,} bytes | T {T}, {mode}")
            print(f"time {out['total_seconds']:.1f} s end to end = startup {t_start:.2f} + load {t_load:.2f} "
                  f"(decompress {out['decompress_seconds']:.2f}) + data {t_data:.2f} + warm-up {warm:.2f} + eval "
                  f"{t_eval:.2f} | {rt.describe()} | {out['rope']}")
    shutdown(rt)
    return 0


def register(sub) -> None:
    e = sub.add_parser("eval", help="score an artifact on a val split (val_bpb with the challenge's byte accounting)")
    e.add_argument("artifact")
    e.add_argument("--data", required=True)
    e.add_argument("--tokenizer", required=True)
    e.add_argument("--seq-len", type=int, default=1024, help="eval window length T (RoPE as configured in the model)")
    e.add_argument("--stride", type=int, default=0, help="sliding-window stride (0 = non-overlapping windows)")
    e.add_argument("--rope-base", type=float, default=None,
                   help="RoPE base for this evaluation (default: the model's own; e.g. an NTK base when --seq-len "
                        "exceeds the training length)")
    e.add_argument("--doc-aware", action="store_true", help="keep every window inside one BOS-delimited document")
    e.add_argument("--ttt", nargs="+", metavar="MODE [key=value]",
                   help="score-first test-time training: `full` (whole model, SGD over stream chunks) or `lora` "
                        "(per-document adapters), then eval.ttt keys, e.g. --ttt lora lr=3e-4 lora.rank=16")
    e.add_argument("--batch-tokens", type=int, default=65_536, help="tokens per forward over all ranks")
    e.add_argument("--max-tokens", type=int, default=0, help="score only a prefix of the val stream (0 = all)")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--no-compile", action="store_true", help="run eager on CUDA too")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_eval)
