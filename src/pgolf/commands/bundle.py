"""`pgolf bundle --recipe NAME [--tiny] [--data DIR] [--tokenizer FILE] [key=value …] -o train_gpt.py`: the single-file
script a submission ships (pgolf.artifact.bundle). `--from-run RUN_DIR` bundles a finished run's own config.
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

import json
from pathlib import Path

from pgolf.commands import recipe_config
from pgolf.errors import PgolfError


def run_config(run_dir: Path):
    """(config, recipe) of a finished or started run directory, from its config.json / summary.json."""
    from pgolf.config import Config, from_dict, validate

    cfg_path = run_dir / "config.json"
    try:
        cfg = validate(from_dict(Config, json.loads(cfg_path.read_text())))
    except OSError as e:
        raise PgolfError(f"{cfg_path}: cannot read ({e.strerror})") from None
    except ValueError as e:
        raise PgolfError(f"{cfg_path}: not a pgolf config ({e})") from None
    recipe = None
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            recipe = json.loads(summary.read_text()).get("recipe")
        except ValueError:
            raise PgolfError(f"{summary}: corrupt JSON") from None
    return cfg, recipe or run_dir.name


def cmd_bundle(args) -> int:
    from pgolf.artifact.bundle import build
    from pgolf.artifact.pack import write_atomic

    if args.from_run:
        if args.recipe or args.tiny or args.overrides or args.data or args.tokenizer:
            raise PgolfError("bundle: --from-run takes the run's own config; give no --recipe/--tiny/overrides")
        cfg, recipe = run_config(Path(args.from_run))
    else:
        if not args.recipe:
            raise PgolfError("bundle: give --recipe NAME or --from-run RUN_DIR")
        cfg = recipe_config(args.recipe, args.tiny, args.overrides, args.data, args.tokenizer)
        recipe = args.recipe + ("+tiny" if args.tiny else "")
    blob = build(cfg, recipe)
    write_atomic(Path(args.output), blob)
    print(f"{args.output}: {len(blob):,} bytes (recipe {recipe}; run it with `python {args.output} --data DIR "
          f"--tokenizer FILE` or under torchrun)")
    return 0


def register(sub) -> None:
    b = sub.add_parser("bundle", help="write the single-file train_gpt.py for a recipe or a finished run")
    b.add_argument("--recipe")
    b.add_argument("--tiny", action="store_true")
    b.add_argument("--from-run", metavar="RUN_DIR", help="bundle this run's config.json")
    b.add_argument("--data", help="data.path baked into the bundle (default: the challenge layout)")
    b.add_argument("--tokenizer", help="data.tokenizer baked into the bundle")
    b.add_argument("-o", "--output", default="train_gpt.py")
    b.add_argument("overrides", nargs="*", metavar="key=value")
    b.set_defaults(fn=cmd_bundle)
