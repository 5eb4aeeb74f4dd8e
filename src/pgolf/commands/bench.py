"""`pgolf bench --recipe NAME [--tiny] [--steps N] [--json] [key=value …]`: time one training step of a recipe on this
machine (synthetic tokens, one rank) — compile time, ms/step, tokens/s, FLOPs/token, MFU, peak memory, dynamo graph
breaks and recompiles, forward/backward/optimizer split (pgolf.lab.bench)."""

from __future__ import annotations

from pgolf.commands import print_json, recipe_config
from pgolf.errors import PgolfError


def cmd_bench(args) -> int:
    from pgolf.lab.bench import format_table, run_bench  # heavy (torch), cold path: not imported at startup

    if args.steps < 1:
        raise PgolfError(f"--steps: expected a positive number of timed steps, got {args.steps}")
    cfg = recipe_config(args.recipe, args.tiny, args.overrides)
    r = run_bench(cfg, steps=args.steps)
    if args.json:
        print_json({"recipe": args.recipe, "tiny": args.tiny, **r})
    else:
        print(format_table(r, f"pgolf bench | recipe {args.recipe}{' (tiny)' if args.tiny else ''}"))
    return 0


def register(sub) -> None:
    b = sub.add_parser("bench", help="time a recipe's training step: ms/step, tokens/s, FLOPs/token, MFU, memory")
    b.add_argument("--recipe", required=True)
    b.add_argument("--tiny", action="store_true", help="shrink the recipe to CPU size, keeping its techniques")
    b.add_argument("--steps", type=int, default=10, help="timed steps after the two warmup steps (default 10)")
    b.add_argument("--json", action="store_true", help="print the numbers as JSON")
    b.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.batch_tokens=4096")
    b.set_defaults(fn=cmd_bench)
