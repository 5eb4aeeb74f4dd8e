"""`pgolf compare RUN… [--by step|time] [--out PNG] [--json]`: one table of the runs and their curves overlaid
(pgolf.lab.compare, pgolf.lab.plots). Without matplotlib the table is printed and one line says the plot needs it."""

from __future__ import annotations

import sys
from pathlib import Path

from pgolf.commands import print_json


def cmd_compare(args) -> int:
    from pgolf.lab import plots  # heavy (torch), cold path: not imported at startup
    from pgolf.lab.compare import compare_rows, format_rows  # cold path, as above
    from pgolf.lab.report import PLOT_HINT  # cold path, as above
    from pgolf.lab.rundata import load_run  # cold path, as above

    runs = [load_run(p) for p in args.runs]
    rows = compare_rows(runs)
    if args.json:
        print_json(rows)
    else:
        print(format_rows(rows))
    if plots.matplotlib_available():
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        plots.compare_plot(runs, out, args.by)
        print(f"curves: {out}", file=sys.stderr if args.json else sys.stdout)
    else:
        print(f"pgolf compare: {PLOT_HINT}", file=sys.stderr)
    return 0


def register(sub) -> None:
    c = sub.add_parser("compare", help="compare runs: one table and the curves overlaid")
    c.add_argument("runs", nargs="+", metavar="RUN", help="pgolf run directories")
    c.add_argument("--by", choices=("step", "time"), default="step", help="x axis of the curves (default step)")
    c.add_argument("--out", default="compare.png", help="where to write the overlaid curves (default compare.png)")
    c.add_argument("--json", action="store_true", help="print the table as JSON")
    c.set_defaults(fn=cmd_compare)
