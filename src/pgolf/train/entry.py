"""Run a resolved config and report; the entry point of a bundled train_gpt.py (pgolf.artifact.bundle).

`python train_gpt.py [--data DIR] [--tokenizer FILE] [--out DIR] [--dry-run] [key=value …]` runs the config frozen
into the bundle with the same options as `pgolf train`. This module imports no recipe and no CLI verb, so the bundle's
import closure (which starts here) carries only the training path.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pgolf.artifact.bundle_prune import check as check_pruned
from pgolf.config import Config, from_dict, override, parse_overrides, to_dict, validate
from pgolf.errors import OneLineArgParser, exit_status
from pgolf.runtime.challenge_env import challenge_overrides, merge_with_flags
from pgolf.train.options import add_run_options
from pgolf.train.run import run


def run_and_report(cfg: Config, recipe: str, out_arg: str | None, throughput=None) -> int:
    """Run and print the headline; `throughput` (pgolf.model.flops.Throughput, from `pgolf train`) adds the FLOPs lines."""
    out = Path(out_arg) if out_arg else Path("runs") / f"{recipe.replace('+', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    s = run(cfg, out, recipe=recipe, throughput=throughput)
    print(f"val_bpb {s['val_bpb']:.4f} (pre-quant {s['val_bpb_prequant']:.4f}) | {s['artifact_bytes']:,} bytes | "
          f"summary: {out / 'summary.json'}")
    return 0


def run_bundled(config: dict, recipe: str, argv: list[str], pruned: tuple[str, ...] = ()) -> int:
    """The bundle's main: the challenge's environment variables (DATA_PATH, TOKENIZER_PATH, SEED, RUN_ID …;
    pgolf.runtime.challenge_env) apply under the flags, which win. `pruned`: the feature modules the bundle ships as
    stubs (pgolf.artifact.bundle_prune); overrides that turn one back on are refused in one line."""
    p = OneLineArgParser(prog="train_gpt.py", description=f"pgolf bundle of recipe {recipe}: train, export, evaluate.")
    add_run_options(p)

    def go() -> int:
        args = p.parse_args(argv)
        flags = {k: v for k, v in (("data.path", args.data), ("data.tokenizer", args.tokenizer)) if v is not None}
        env_keys, run_id = challenge_overrides()
        words, note = merge_with_flags(env_keys, {**flags, **parse_overrides(args.overrides)})
        cfg = validate(override(from_dict(Config, config), words))
        check_pruned(cfg, pruned)
        if note is not None:
            print(f"train_gpt.py: {note}", file=sys.stderr)
        if args.dry_run:
            print(json.dumps({"recipe": recipe, "config": to_dict(cfg)}, indent=2))
            return 0
        out = args.out or (str(Path("runs") / run_id) if run_id else None)
        return run_and_report(cfg, recipe, out)

    return exit_status("train_gpt.py", go)
