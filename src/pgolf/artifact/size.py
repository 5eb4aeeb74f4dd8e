"""Byte accounting: artifact = code bytes + compressed model bytes, against the decimal cap (16,000,000).

Until the single-file bundler exists, `code_bytes` counts the UTF-8 bytes of every source file of the pgolf package —
an upper bound on what a bundled train_gpt.py would hold (the method is recorded next to the number).
"""

from __future__ import annotations

from pathlib import Path

import pgolf
from pgolf.errors import PgolfError

CODE_BYTES_METHOD = "package-sources"


def package_code_bytes() -> int:
    root = Path(pgolf.__file__).parent
    return sum(len(p.read_text(encoding="utf-8").encode("utf-8")) for p in sorted(root.rglob("*.py")))


def check_budget(model_bytes: int, code_bytes: int, max_bytes: int, what: str = "artifact") -> int:
    total = model_bytes + code_bytes
    if total > max_bytes:
        raise PgolfError(
            f"{what}: {total:,} bytes (model {model_bytes:,} + code {code_bytes:,}) is over the cap of {max_bytes:,}"
        )
    return total
