"""`pgolf <verb>`: the command line. Each verb lives in `pgolf.commands.<verb>` and registers its own parser.

Every user error (bad key, bad value, missing file, corrupt shard or artifact) is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib

from pgolf.errors import OneLineArgParser, exit_status

VERBS = ["demo", "train", "eval", "recipes", "data", "size", "bundle", "export", "stats", "check", "bench", "report",
         "compare"]


def build_parser() -> argparse.ArgumentParser:
    p = OneLineArgParser(prog="pgolf", description="Train, quantize, compress and evaluate byte-budgeted GPTs.")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=OneLineArgParser)
    for verb in VERBS:
        importlib.import_module(f"pgolf.commands.{verb}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    def go() -> int:
        args = build_parser().parse_args(argv)
        return args.fn(args)

    return exit_status("pgolf", go)


if __name__ == "__main__":
    raise SystemExit(main())
