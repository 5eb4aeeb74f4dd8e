"""`pgolf <verb>`: demo, train, eval, recipes.

Every user error (bad key, bad value, missing file, corrupt shard or artifact) is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pgolf.config import Config, all_keys, override, parse_overrides, to_dict, validate
from pgolf.errors import PgolfError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage + error otherwise)
        raise PgolfError(f"{self.prog}: {message}")


def _recipe_config(name: str, tiny: bool, words: list[str], data: str | None, tokenizer: str | None) -> Config:
    from pgolf.recipes import get_recipe
    from pgolf.recipes import tiny as shrink

    cfg = get_recipe(name).build()
    if tiny:
        cfg = shrink(cfg)
    extra = {}
    if data is not None:
        extra["data.path"] = data
    if tokenizer is not None:
        extra["data.tokenizer"] = tokenizer
    cfg = override(cfg, {**extra, **parse_overrides(words)})
    return validate(cfg)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


def cmd_recipes(args) -> int:
    from pgolf.model.gpt import count_params
    from pgolf.recipes import REGISTRY, get_recipe

    if args.action == "show":
        if not args.name:
            raise PgolfError("pgolf recipes show: a recipe NAME is required")
        r = get_recipe(args.name)
        cfg = validate(r.build())
        out = {"name": r.name, "summary": r.summary, "source": r.source, "author": r.author, "parent": r.parent,
               "reported": r.reported, "params": count_params(cfg.model), "config": to_dict(cfg)}
        if args.json:
            _print_json(out)
        else:
            print(f"{r.name}: {r.summary}\n  source: {r.source or '-'}\n  params: {out['params']:,}")
            for k, v in r.reported.items():
                print(f"  reported {k}: {v}")
            for section, values in out["config"].items():
                for k, v in values.items():
                    print(f"  {section}.{k} = {v}")
        return 0
    rows = [{"name": r.name, "summary": r.summary, "params": count_params(validate(r.build()).model),
             "source": r.source} for r in REGISTRY.values()]
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"{row['name']:<10} {row['params']:>12,} params  {row['summary']}")
    return 0


def cmd_train(args) -> int:
    from pgolf.model.gpt import count_params

    cfg = _recipe_config(args.recipe, args.tiny, args.overrides, args.data, args.tokenizer)
    if args.dry_run:
        _print_json({"recipe": args.recipe, "tiny": args.tiny, "params": count_params(cfg.model),
                     "config": to_dict(cfg)})
        return 0
    from pgolf.train.run import run

    out = Path(args.out) if args.out else Path("runs") / f"{args.recipe}{'-tiny' if args.tiny else ''}-{time.strftime('%Y%m%d-%H%M%S')}"
    summary = run(cfg, out, recipe=args.recipe + ("+tiny" if args.tiny else ""))
    print(f"val_bpb {summary['val_bpb']:.4f} (pre-quant {summary['val_bpb_prequant']:.4f}) | "
          f"{summary['artifact_bytes']:,} bytes | summary: {out / 'summary.json'}")
    return 0


def cmd_demo(args) -> int:
    from pgolf.data.demo_corpus import prepare_demo
    from pgolf.recipes import get_recipe
    from pgolf.train.run import run

    t0 = time.perf_counter()
    data_dir, tok = prepare_demo()
    cfg = override(get_recipe("demo").build(), {"data.path": str(data_dir), "data.tokenizer": str(tok),
                                                  **parse_overrides(args.overrides)})
    out = Path(args.out) if args.out else Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    s = run(cfg, out, recipe="demo")
    print(f"demo done in {time.perf_counter() - t0:.0f} s | val_bpb {s['val_bpb']:.4f} after the artifact round "
          f"trip (pre-quant {s['val_bpb_prequant']:.4f}) | {s['artifact_bytes']:,} bytes | {out / 'summary.json'}")
    return 0


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

    t0 = time.perf_counter()
    rt = init_runtime(args.device)
    model, info = load_model(Path(args.artifact), rt.device)
    t_load = time.perf_counter() - t0
    sp = load_sentencepiece(args.tokenizer)
    check_vocab(sp, model.cfg.vocab_size, args.tokenizer)
    T = args.seq_len
    if T <= 0:
        raise PgolfError(f"--seq-len: expected a positive integer, got {T}")
    if args.stride < 0 or args.stride > T:
        raise PgolfError(f"--stride: expected 0..{T} (0 = non-overlapping), got {args.stride}")
    val = trim_val(np.asarray(load_split(Path(args.data), "val", model.cfg.vocab_size)), T, args.max_tokens)
    lut = DeviceLUT(byte_luts(sp, model.cfg.vocab_size), rt.device)
    t1 = time.perf_counter()
    with torch.no_grad():
        r = evaluate(model, val, T, args.stride, args.batch_tokens, lut, rt)
    t_eval = time.perf_counter() - t1
    out = {**r.to_dict(), "seq_len": T, "stride": args.stride or T, "artifact_bytes_model": info["file_bytes"],
           "codec": info["codec"], "decompress_seconds": info["decompress_seconds"], "load_seconds": t_load,
           "eval_seconds": t_eval, "total_seconds": time.perf_counter() - t0, "partial": bool(args.max_tokens)}
    if rt.is_main:
        if args.json:
            _print_json(out)
        else:
            print(f"val_bpb {r.val_bpb:.6f} | val_loss {r.val_loss:.6f} | {r.scored_tokens:,} tokens, "
                  f"{r.scored_bytes:,} bytes | {out['total_seconds']:.1f} s")
    shutdown(rt)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pgolf", description="Train, quantize, compress and evaluate byte-budgeted GPTs.")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    d = sub.add_parser("demo", help="the main job end to end on the built-in demo corpus (CPU, ~2 min)")
    d.add_argument("--out", help="run directory (default runs/demo-TIMESTAMP)")
    d.add_argument("overrides", nargs="*", metavar="key=value")
    d.set_defaults(fn=cmd_demo)

    t = sub.add_parser("train", help="train a recipe, export the artifact, evaluate the round trip")
    t.add_argument("--recipe", required=True)
    t.add_argument("--tiny", action="store_true", help="shrink the recipe to CPU size, keeping its techniques")
    t.add_argument("--data", help="directory with fineweb_{train,val}_*.bin (sets data.path)")
    t.add_argument("--tokenizer", help="SentencePiece .model (sets data.tokenizer)")
    t.add_argument("--out", help="run directory (default runs/RECIPE-TIMESTAMP)")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and parameter count only")
    t.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. train.iterations=200 (keys: see `pgolf recipes show NAME`)")
    t.set_defaults(fn=cmd_train)

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

    r = sub.add_parser("recipes", help="list recipes, or `recipes show NAME`")
    r.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    r.add_argument("name", nargs="?")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=cmd_recipes)

    k = sub.add_parser("keys", help="list every config key")
    k.set_defaults(fn=lambda a: print("\n".join(all_keys())) or 0)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.fn(args)
    except PgolfError as e:
        print(f"pgolf: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("pgolf: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
