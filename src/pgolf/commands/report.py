"""`pgolf report RUN_DIR`: report.md and PNG plots (curves, schedules, byte budget, quantization gap) in the run
directory (pgolf.lab.report). Without matplotlib: report.md with the tables and one line saying the plots need it."""

from __future__ import annotations

import sys


def cmd_report(args) -> int:
    from pgolf.lab.report import make_report  # heavy (torch), cold path: not imported at startup

    out, plots, note = make_report(args.run_dir)
    print(f"report: {out}" + (f" | plots: {', '.join(plots)}" if plots else ""))
    if note:
        print(f"pgolf report: {note}", file=sys.stderr)
    return 0


def register(sub) -> None:
    r = sub.add_parser("report", help="report.md + PNG plots of a run: curves, schedules, bytes, quantization gap")
    r.add_argument("run_dir", help="a pgolf run directory (metrics.jsonl, config.json, summary.json)")
    r.set_defaults(fn=cmd_report)
