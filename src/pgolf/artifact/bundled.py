"""Whether this process runs from a bundled train_gpt.py (pgolf.artifact.bundle), and that file's path.

Kept apart from the bundler so a bundle carries this check without the bundler itself (a bundle counts its own size).
"""

from __future__ import annotations

import sys

import pgolf

BUNDLE_MARK = "__pgolf_bundle__"  # a global the bundle's stub sets in __main__: the bundle's own path


def running_bundle() -> str | None:
    """The path of the bundle this process runs from, or None when pgolf runs from its package."""
    main = sys.modules.get("__main__")
    return getattr(main, BUNDLE_MARK, None) if getattr(pgolf, "__file__", None) is None else None
