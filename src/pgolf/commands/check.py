"""`pgolf check RUN_DIR|RECORD_DIR [--json]`: the challenge's rules as a pass / fail / unknown table, one reason per
row (pgolf.lab.check). Exit status 0 when no row fails, 1 when one does, 2 on unreadable input."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from pgolf.commands import print_json


def cmd_check(args) -> int:
    # inside the verb: pgolf.lab pulls in torch (a cold path; `pgolf --help` stays torch-free)
    from pgolf.lab.check import ROWS, check, render

    rows, notes = check(Path(args.path))
    if args.json:
        print_json({"path": args.path, "rows": [{**asdict(r), "check": ROWS[r.key]} for r in rows], "notes": notes})
    else:
        print(render(Path(args.path), rows, notes))
    return 1 if any(r.status == "fail" for r in rows) else 0


def register(sub) -> None:
    s = sub.add_parser("check", help="rule checks of a pgolf run or a public records folder: pass / fail / unknown")
    s.add_argument("path", help="a finished pgolf run dir, a pgolf export folder or a public records folder")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_check)
