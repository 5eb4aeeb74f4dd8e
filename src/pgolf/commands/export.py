"""`pgolf export RUN_DIR [RUN_DIR …] --out DIR [--name TEXT] [--author TEXT] [--github-id ID] [--blurb TEXT]
[--track 10min_16mb|non_record_16mb] [--force]`: a submission records folder (train_gpt.py, README.md,
submission.json, train_seed*.log) from finished runs of one config, one per seed (pgolf.records.folder).
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

from pathlib import Path

from pgolf.records import TRACKS


def cmd_export(args) -> int:
    from pgolf.records.folder import Meta, export  # heavy (torch), cold path: not imported at startup

    meta = Meta(name=args.name, author=args.author, github_id=args.github_id, blurb=args.blurb, track=args.track)
    sub = export([Path(d) for d in args.runs], Path(args.out), meta, force=args.force)
    std = f" ± {sub['val_bpb_std']:.5f}" if "val_bpb_std" in sub else ""
    print(f"{args.out}: val_bpb {sub['val_bpb']:.5f}{std} over {len(sub['seeds'])} seed(s) | bytes_total "
          f"{sub['bytes_total']:,} (code {sub['bytes_code']:,}) | track {sub['track']} — copy it to "
          f"records/track_{sub['track']}/ in a parameter-golf checkout")
    return 0


def register(sub) -> None:
    e = sub.add_parser("export", help="write a submission records folder from finished runs (one per seed)")
    e.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished run directories of one config")
    e.add_argument("--out", required=True, help="the records folder to write (refused if it exists)")
    e.add_argument("--name", help="submission name (default: the recipe's summary)")
    e.add_argument("--author", default="")
    e.add_argument("--github-id", default="")
    e.add_argument("--blurb", help="one paragraph for submission.json and the README")
    e.add_argument("--track", choices=TRACKS,
                   help="default: 10min_16mb when every run is a full-eval 8xH100 run in time, else non_record_16mb")
    e.add_argument("--force", action="store_true", help="replace an existing --out folder")
    e.set_defaults(fn=cmd_export)
