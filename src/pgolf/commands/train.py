"""`pgolf train --recipe NAME [--tiny] [--data DIR] [--tokenizer FILE] [--out DIR] [--dry-run] [key=value …]`.
The run itself and the bundled train_gpt.py's entry point live in pgolf.train.entry (imported by the verb, not at
startup: see pgolf.commands).
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

from pgolf.commands import print_json, recipe_config
from pgolf.train.options import add_run_options


def cmd_train(args) -> int:
    # heavy (torch), cold path: imported here so that `pgolf --help` and argument errors stay torch-free
    from pgolf.config import to_dict
    from pgolf.model.gpt import count_params
    from pgolf.train.entry import run_and_report

    cfg = recipe_config(args.recipe, args.tiny, args.overrides, args.data, args.tokenizer)
    if args.dry_run:
        print_json({"recipe": args.recipe, "tiny": args.tiny, "params": count_params(cfg.model),
                    "config": to_dict(cfg)})
        return 0
    return run_and_report(cfg, args.recipe + ("+tiny" if args.tiny else ""), args.out)


def register(sub) -> None:
    t = sub.add_parser("train", help="train a recipe, export the artifact, evaluate the round trip")
    t.add_argument("--recipe", required=True)
    t.add_argument("--tiny", action="store_true", help="shrink the recipe to CPU size, keeping its techniques")
    add_run_options(t)
    t.set_defaults(fn=cmd_train)
