"""CLI verbs, one module each. A module exposes `register(subparsers)`; `pgolf.cli.VERBS` lists the modules."""

from __future__ import annotations

import json

from pgolf.config import Config, override, parse_overrides, validate


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


def recipe_config(name: str, tiny: bool, words: list[str], data: str | None = None,
                  tokenizer: str | None = None) -> Config:
    """A registered recipe, optionally shrunk by `tiny`, with --data/--tokenizer and key=value overrides applied."""
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
    return validate(override(cfg, {**extra, **parse_overrides(words)}))
