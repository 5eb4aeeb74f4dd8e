"""`pgolf stats A… --vs B… [--json]`: per-seed scores, means, the delta in bpb and nats, a one-sided Welch test and
the verdicts under the README's rule and the maintainers' frontier rule (pgolf.lab.stats). Each side is any mix of
pgolf run dirs, export folders, public records folders or their submission.json (pgolf.lab.records_read)."""

from __future__ import annotations

from pathlib import Path

from pgolf.commands import print_json


def cmd_stats(args) -> int:
    # inside the verb: pgolf.lab pulls in torch (a cold path; `pgolf --help` stays torch-free)
    from pgolf.lab.records_read import read_side
    from pgolf.lab.stats import compare, render

    a = [row for p in args.a for row in read_side(Path(p))]
    b = [row for p in args.vs for row in read_side(Path(p))]
    r = compare(a, b, " + ".join(args.a), " + ".join(args.vs))
    if args.json:
        print_json(r)
    else:
        print(render(r))
    return 0


def register(sub) -> None:
    s = sub.add_parser("stats", help="seed statistics of A against B: means, delta, Welch test, record verdicts")
    s.add_argument("a", nargs="+", metavar="A", help="run dirs, export/records folders or submission.json files")
    s.add_argument("--vs", nargs="+", required=True, metavar="B", help="the baseline side, same kinds of paths")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_stats)
