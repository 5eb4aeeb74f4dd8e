"""CLI verbs, one module each. A module exposes `register(subparsers)`; `pgolf.cli.VERBS` lists the modules.

Startup: `pgolf --help` and argument errors import every verb module to register its parser, so these modules import
only argparse-level code at the top (pgolf.errors, pgolf.train.options); the config tree, torch and the training
path are imported inside the verb functions that need them (each such import says so).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgolf.config import Config  # annotations only: the config tree imports torch, --help must not


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


def recipe_config(name: str, tiny: bool, words: list[str], data: str | None = None,
                  tokenizer: str | None = None) -> Config:
    """A registered recipe, optionally shrunk by `tiny`, with --data/--tokenizer and key=value overrides applied."""
    from pgolf.config import (  # heavy (torch), cold path: keeps --help fast
        override,
        parse_overrides,
        validate,
    )
    from pgolf.recipes import get_recipe  # heavy (torch), cold path: keeps --help fast
    from pgolf.recipes import tiny as shrink

    r = get_recipe(name)
    cfg = r.build()
    changes = parse_overrides(words)
    if tiny:  # step-bound schedules scale to the run's length: train.iterations=N given here counts
        n = override(cfg, {"train.iterations": changes["train.iterations"]}).train.iterations \
            if "train.iterations" in changes else 20
        cfg = shrink(cfg, n, r.reported.get("steps"))
    extra = {}
    if data is not None:
        extra["data.path"] = data
    if tokenizer is not None:
        extra["data.tokenizer"] = tokenizer
    return validate(override(cfg, {**extra, **changes}))
