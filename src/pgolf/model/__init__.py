"""The one GPT model: trunk, block, attention, MLP, and the technique features that plug into them.

Imports are lazy so that `pgolf.config` can import the small technique config dataclasses from
`pgolf.model.features.*` without a cycle (config → features, while gpt → config).
"""

from __future__ import annotations

__all__ = ["GPT", "count_params"]


def __getattr__(name: str):
    if name in __all__:
        from pgolf.model import gpt

        return getattr(gpt, name)
    raise AttributeError(f"module 'pgolf.model' has no attribute {name!r}")
