"""CLI verbs, one module each. A module exposes `register(subparsers)`; `pgolf.cli.VERBS` lists the modules.

Startup: `pgolf --help` and argument errors import every verb module to register its parser, so these modules import
only argparse-level code at the top (pgolf.errors, pgolf.train.options); the config tree, torch and the training
path are imported inside the verb functions that need them (each such import says so).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgolf.config import Config


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

    cfg = get_recipe(name).build()
    if tiny:
        cfg = shrink(cfg)
    extra = {}
    if data is not None:
        extra["data.path"] = data
    if tokenizer is not None:
        extra["data.tokenizer"] = tokenizer
    return validate(override(cfg, {**extra, **parse_overrides(words)}))
