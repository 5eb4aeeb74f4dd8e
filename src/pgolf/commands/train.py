"""`pgolf train --recipe NAME [--tiny] [--data DIR] [--tokenizer FILE] [--out DIR] [--dry-run] [key=value …]`."""

from __future__ import annotations

import time
from pathlib import Path

from pgolf.commands import print_json, recipe_config
from pgolf.config import to_dict


def cmd_train(args) -> int:
    from pgolf.model.gpt import count_params

    cfg = recipe_config(args.recipe, args.tiny, args.overrides, args.data, args.tokenizer)
    if args.dry_run:
        print_json({"recipe": args.recipe, "tiny": args.tiny, "params": count_params(cfg.model),
                    "config": to_dict(cfg)})
        return 0
    from pgolf.train.run import run

    name = f"{args.recipe}{'-tiny' if args.tiny else ''}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(args.out) if args.out else Path("runs") / name
    s = run(cfg, out, recipe=args.recipe + ("+tiny" if args.tiny else ""))
    print(f"val_bpb {s['val_bpb']:.4f} (pre-quant {s['val_bpb_prequant']:.4f}) | {s['artifact_bytes']:,} bytes | "
          f"summary: {out / 'summary.json'}")
    return 0


def register(sub) -> None:
    t = sub.add_parser("train", help="train a recipe, export the artifact, evaluate the round trip")
    t.add_argument("--recipe", required=True)
    t.add_argument("--tiny", action="store_true", help="shrink the recipe to CPU size, keeping its techniques")
    t.add_argument("--data", help="directory with fineweb_{train,val}_*.bin (sets data.path)")
    t.add_argument("--tokenizer", help="SentencePiece .model (sets data.tokenizer)")
    t.add_argument("--out", help="run directory (default runs/RECIPE-TIMESTAMP)")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and parameter count only")
    t.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. train.iterations=200 (keys: `pgolf keys`)")
    t.set_defaults(fn=cmd_train)
