"""The recipe registry and the `tiny` transform."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from pgolf.config import Config, override
from pgolf.errors import PgolfError


@dataclass(frozen=True)
class Recipe:
    name: str
    build: Callable[[], Config]
    summary: str
    source: str = ""  # e.g. "openai/parameter-golf PR #198"
    author: str = ""
    reported: dict = field(default_factory=dict)  # published figures: val_bpb, bytes, steps, seeds …
    parent: str | None = None


REGISTRY: dict[str, Recipe] = {}


def recipe(name: str, summary: str, source: str = "", author: str = "", reported: dict | None = None,
           parent: str | None = None):
    """Decorator: register a function returning a Config."""

    def deco(fn: Callable[[], Config]) -> Callable[[], Config]:
        if name in REGISTRY:
            raise ValueError(f"recipe {name!r} registered twice")
        REGISTRY[name] = Recipe(name, fn, summary, source, author, dict(reported or {}), parent)
        return fn

    return deco


def get_recipe(name: str) -> Recipe:
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1)
        hint = f" — did you mean {close[0]}?" if close else f" — known: {', '.join(sorted(REGISTRY))}"
        raise PgolfError(f"recipe {name!r}: unknown{hint}")
    return REGISTRY[name]


def tiny(cfg: Config) -> Config:
    """Shrink a recipe to CPU size, keeping every technique block: 4 layers × d 128, 4/2 heads, seq 256.

    Shapes that depend on depth or width are scaled, not dropped; the budget becomes iteration-based.
    """
    m = cfg.model
    heads = 4
    kv = max(1, heads * m.num_kv_heads // m.num_heads)
    return override(cfg, {
        "model.num_layers": 4, "model.model_dim": 128, "model.num_heads": heads, "model.num_kv_heads": kv,
        "train.seq_len": 256, "train.batch_tokens": 8 * 256, "train.grad_accum": 1, "train.iterations": 20,
        "train.warmup_steps": 0, "train.max_wallclock_seconds": 0.0, "train.val_every": 0, "train.log_every": 5,
        "train.compile": False, "schedule.warmdown_iters": 5, "optim.muon_momentum_warmup_steps": 10,
        "eval.seq_len": 0, "eval.batch_tokens": 16 * 256, "eval.max_tokens": 16_384,
    })
