"""`override()`: the one way to change a config, shared by recipes and the CLI (`key=value` words), and the tree's
hash. Dotted keys name fields of the tree; a key inside an absent optional block builds that block's defaults first.
Values are coerced from the annotations by pgolf.coerce; unknown keys get a suggestion from the whole tree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import is_dataclass, replace
from typing import Any

from pgolf.coerce import _hints, _optional_inner, coerce, to_dict, unknown_key
from pgolf.coerce import all_keys as block_keys
from pgolf.config.tree import Config
from pgolf.errors import PgolfError


def all_keys(cls=Config, prefix: str = "") -> list[str]:
    """Every dotted key of the tree (or of block `cls`), optional blocks expanded (for suggestions and --help)."""
    return block_keys(cls, prefix)


def _unknown(key: str) -> PgolfError:
    return unknown_key(key, all_keys())


def _set(obj, parts: list[str], value: Any, key: str):
    hints = _hints(type(obj))
    name = parts[0]
    if name not in hints:
        raise _unknown(key)
    tp = hints[name]
    if len(parts) == 1:
        return replace(obj, **{name: coerce(value, tp, key)})
    inner = _optional_inner(tp)
    sub_tp = inner if inner is not None else tp
    if not is_dataclass(sub_tp):
        raise _unknown(key)
    current = getattr(obj, name)
    if current is None:
        current = sub_tp()
    return replace(obj, **{name: _set(current, parts[1:], value, key)})


def override(cfg, changes: Mapping[str, Any]):
    """Return a copy of `cfg` with dotted keys set; values are coerced from the annotations."""
    for key, value in changes.items():
        cfg = _set(cfg, key.split("."), value, key)
    return cfg


def parse_overrides(words: list[str]) -> dict[str, str]:
    """CLI words `a.b=value` → {"a.b": "value"}."""
    out: dict[str, str] = {}
    for w in words:
        if "=" not in w:
            raise PgolfError(f"{w}: expected key=value (e.g. train.iterations=200)")
        k, v = w.split("=", 1)
        out[k.strip()] = v
    return out


def config_hash(cfg) -> str:
    blob = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
