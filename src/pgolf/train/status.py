"""A run directory's status, read by `pgolf export`, `pgolf check` and `pgolf stats` (issue 16): did this run finish?

`summary.json` carries `status`: "ok" when the run finished (artifact written, round trip scored, within the cap),
"failed" with a one-line `reason` when it raised after the config stage (train.log records the same line and, for a
bug, the traceback). A directory without summary.json is "incomplete": still running, or killed (SIGKILL, power)
before it could write anything. A summary from before `status` existed counts as "ok" when its `val_bpb` is there.
"""

from __future__ import annotations

import json
from pathlib import Path

from pgolf.errors import PgolfError


def run_status(run_dir: Path) -> tuple[str, str | None]:
    """→ ("ok" | "failed" | "incomplete", reason or None)."""
    f = Path(run_dir) / "summary.json"
    if not f.is_file():
        return "incomplete", "no summary.json (still running, or killed before it finished)"
    try:
        s = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        return "failed", f"summary.json unreadable ({e})"
    if not isinstance(s, dict):
        return "failed", "summary.json is not a JSON object"
    status = s.get("status", "ok" if "val_bpb" in s else "failed")
    return (status, s.get("reason")) if status != "ok" else ("ok", None)


def require_finished(run_dir: Path) -> None:
    """One-line PgolfError unless the run finished with status ok; it names summary.json when there is one."""
    status, reason = run_status(run_dir)
    if status != "ok":
        f = Path(run_dir) / "summary.json"
        raise PgolfError(f"{f if f.is_file() else run_dir}: run {status} — {reason}")


def failure_reason(e: BaseException) -> str:
    """The one line a failed run records: a user error's own line, else `Type: message` (a bug or the environment)."""
    if isinstance(e, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(e, PgolfError):
        return str(e)
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
