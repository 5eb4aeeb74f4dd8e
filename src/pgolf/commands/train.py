"""`pgolf train --recipe NAME [--tiny] [--data DIR] [--tokenizer FILE] [--out DIR] [--dry-run] [key=value …]`.

`run_bundled` is the entry point of a bundled train_gpt.py (pgolf.artifact.bundle): the same run from the config
frozen into the bundle, with the same --data/--tokenizer/--out/--dry-run options and key=value overrides."""

from __future__ import annotations

import time
from pathlib import Path

from pgolf.commands import print_json, recipe_config
from pgolf.config import Config, from_dict, override, parse_overrides, to_dict, validate
from pgolf.errors import PgolfError


def cmd_train(args) -> int:
    from pgolf.model.gpt import count_params

    cfg = recipe_config(args.recipe, args.tiny, args.overrides, args.data, args.tokenizer)
    if args.dry_run:
        print_json({"recipe": args.recipe, "tiny": args.tiny, "params": count_params(cfg.model),
                    "config": to_dict(cfg)})
        return 0
    return _run(cfg, args.recipe + ("+tiny" if args.tiny else ""), args.out)


def _run(cfg: Config, recipe: str, out_arg: str | None) -> int:
    from pgolf.train.run import run

    name = f"{recipe.replace('+', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(out_arg) if out_arg else Path("runs") / name
    s = run(cfg, out, recipe=recipe)
    print(f"val_bpb {s['val_bpb']:.4f} (pre-quant {s['val_bpb_prequant']:.4f}) | {s['artifact_bytes']:,} bytes | "
          f"summary: {out / 'summary.json'}")
    return 0


def run_bundled(config: dict, recipe: str, argv: list[str]) -> int:
    """`python train_gpt.py [--data DIR] [--tokenizer FILE] [--out DIR] [--dry-run] [key=value …]`."""
    import sys

    from pgolf.cli import _Parser

    p = _Parser(prog="train_gpt.py", description=f"pgolf bundle of recipe {recipe}: train, export, evaluate.")
    _add_run_options(p)
    try:
        args = p.parse_args(argv)
        extra = {k: v for k, v in (("data.path", args.data), ("data.tokenizer", args.tokenizer)) if v is not None}
        cfg = validate(override(from_dict(Config, config), {**extra, **parse_overrides(args.overrides)}))
        if args.dry_run:
            print_json({"recipe": recipe, "config": to_dict(cfg)})
            return 0
        return _run(cfg, recipe, args.out)
    except PgolfError as e:
        print(f"train_gpt.py: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("train_gpt.py: interrupted", file=sys.stderr)
        return 130


def _add_run_options(t) -> None:
    t.add_argument("--data", help="directory with fineweb_{train,val}_*.bin (sets data.path)")
    t.add_argument("--tokenizer", help="SentencePiece .model (sets data.tokenizer)")
    t.add_argument("--out", help="run directory (default runs/RECIPE-TIMESTAMP)")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config only")
    t.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. train.iterations=200 (keys: `pgolf keys`)")


def register(sub) -> None:
    t = sub.add_parser("train", help="train a recipe, export the artifact, evaluate the round trip")
    t.add_argument("--recipe", required=True)
    t.add_argument("--tiny", action="store_true", help="shrink the recipe to CPU size, keeping its techniques")
    _add_run_options(t)
    t.set_defaults(fn=cmd_train)
