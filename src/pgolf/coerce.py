"""Typed coercion of config values: a Python value or a CLI string → the annotated type of a dataclass field.

`coerce` understands the annotations config blocks use — Literal, `X | None` (the word `none` switches a block
off, `on` builds its defaults), tuples (comma-separated on the CLI), nested blocks (from a mapping), bool, int,
float, str — and names the field and the expected type in a one-line PgolfError otherwise. `from_dict` / `to_dict`
are the block ⇄ JSON-dict round trip (run directories, artifacts, bundles). This module knows no config tree: it
sits at the bottom beside pgolf.errors so any package can load its own block (the artifact its model block);
`pgolf.config` builds `override()` and the tree's key suggestions on it.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, Literal

from pgolf.errors import PgolfError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"none", "null"}


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional_inner(tp) -> Any | None:
    """X for `X | None` / Optional[X], else None."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _type_name(tp) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return f"{_type_name(inner)} or none"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"comma-separated list of {_type_name(args[0])}"
        return "comma-separated " + ", ".join(_type_name(a) for a in args)
    if is_dataclass(tp):
        return f"a {tp.__name__} block ('on' or 'none')"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert `value` (a Python value or a CLI string) to the annotated type `tp`, or raise a PgolfError."""

    def bad() -> PgolfError:
        return PgolfError(f"{key}: expected {_type_name(tp)}, got {value!r}")

    inner = _optional_inner(tp)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        return coerce(value, inner, key)
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        raise bad()
    if origin is tuple:
        args = typing.get_args(tp)
        items = value
        if isinstance(value, str):
            items = [s.strip() for s in value.split(",") if s.strip()] if value.strip() else []
        if not isinstance(items, (list, tuple)):
            raise bad()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], key) for v in items)
        if len(items) != len(args):
            raise bad()
        return tuple(coerce(v, a, key) for v, a in zip(items, args))
    if is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return from_dict(tp, value, prefix=key)
        if isinstance(value, str) and value.strip().lower() in ("on", "default"):
            return tp()
        raise bad()
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad()
    if tp is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            s = value.strip().replace("_", "")
            try:
                return int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    raise bad() from None
                if f.is_integer():
                    return int(f)
        raise bad()
    if tp is float:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip().replace("_", ""))
            except ValueError:
                raise bad() from None
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad()
    raise PgolfError(f"{key}: unsupported config type {tp!r}")


def all_keys(cls, prefix: str = "") -> list[str]:
    """Every dotted key of a block `cls`, optional blocks expanded (for suggestions and --help)."""
    out: list[str] = []
    for name, tp in _hints(cls).items():
        key = f"{prefix}{name}"
        inner = _optional_inner(tp)
        sub = inner if inner is not None and is_dataclass(inner) else tp if is_dataclass(tp) else None
        out.append(key)
        if sub is not None:
            out.extend(all_keys(sub, key + "."))
    return out


def unknown_key(key: str, keys: list[str]) -> PgolfError:
    """The one-line error of an unknown dotted key, with the closest of `keys` as a suggestion."""
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    hint = f" — did you mean {close[0]}?" if close else " — see `pgolf recipes show NAME` for the keys"
    return PgolfError(f"{key}: unknown key{hint}")


def from_dict(cls, d: Mapping[str, Any], prefix: str = ""):
    """Build a config of type `cls` from a (possibly partial) nested dict; unknown keys are refused."""
    hints = _hints(cls)
    kwargs = {}
    for name, value in d.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in hints:
            raise unknown_key(key, all_keys(cls, f"{prefix}." if prefix else ""))
        kwargs[name] = coerce(value, hints[name], key)
    return cls(**kwargs)


def to_dict(cfg) -> dict[str, Any]:
    def conv(x):
        if is_dataclass(x):
            return {f.name: conv(getattr(x, f.name)) for f in fields(x)}
        if isinstance(x, tuple):
            return [conv(v) for v in x]
        return x

    return conv(cfg)


def to_delta(cfg) -> dict[str, Any]:
    """The fields of a config block that differ from its class's defaults, nested: `from_dict(type(cfg), ·)` rebuilds
    `cfg` from it (a sub-block is given relative to its own class's defaults, which from_dict starts from). The
    bundle ships this instead of the whole tree."""
    base = type(cfg)()
    out: dict[str, Any] = {}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if v == getattr(base, f.name):
            continue
        try:
            out[f.name] = to_delta(v) if is_dataclass(v) else to_dict(v)
        except TypeError:  # a block class without defaults for every field: given whole
            out[f.name] = to_dict(v)
    return out
