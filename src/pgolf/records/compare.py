"""What a records folder compares: the challenge's byte cap, config trees key by key, and a run's recipe.

Shared by the folder builder (pgolf.records.folder) and its documents (pgolf.records.docs).
"""

from __future__ import annotations

from typing import Any

from pgolf.coerce import to_dict
from pgolf.config import Config
from pgolf.recipes import REGISTRY, tiny

CHALLENGE_CAP = 16_000_000
_MISSING = object()


def cap_of(cfg: Config) -> int:
    """The byte cap a submission of this config is held to: the challenge's, or the config's if tighter."""
    return min(cfg.artifact.max_bytes, CHALLENGE_CAP)


def flat(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested config dict → {dotted key: leaf}; an absent technique block is the leaf None."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        out.update(flat(v, key) if isinstance(v, dict) else {key: v})
    return out


def differences(a: Config, b: Config, skip: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in a, value in b) for every key that differs, in the config tree's order."""
    fa, fb = flat(to_dict(a)), flat(to_dict(b))
    keys = list(fa) + [k for k in fb if k not in fa]
    return [(k, fa.get(k, _MISSING), fb.get(k, _MISSING)) for k in keys
            if k not in skip and fa.get(k, _MISSING) != fb.get(k, _MISSING)]


def recipe_config(recipe: str) -> Config | None:
    """The registered recipe a run's recipe string names ("pr1473", "pr1473+tiny"), or None when unregistered."""
    base, *mods = recipe.split("+")
    if base not in REGISTRY or set(mods) - {"tiny"}:
        return None
    cfg = REGISTRY[base].build()
    return tiny(cfg) if "tiny" in mods else cfg
