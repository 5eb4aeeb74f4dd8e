"""`pgolf check` over every records folder of the public repo's main: pass / fail / unknown counts per row, and the
reason of every fail.

Usage: python benchmarks/check_records.py [--mirror /work/.mirror/openai+parameter-golf/repo] [--ref main]
       [--track track_10min_16mb]

Each folder is copied out of the git mirror into a temp folder (benchmarks/records_mirror.py) and checked as text;
no record code is imported or run. A folder that cannot be checked at all is listed with its one-line error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records_mirror import DEFAULT_MIRROR, extract, folders  # noqa: E402

from pgolf.errors import PgolfError  # noqa: E402
from pgolf.lab.check import ROWS, check_record  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    ap.add_argument("--ref", default="main")
    ap.add_argument("--track", default="track_10min_16mb")
    args = ap.parse_args()
    counts = {k: Counter() for k in ROWS}
    fails: list[tuple[str, str, str]] = []
    errors = []
    names = folders(args.mirror, args.ref, args.track)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            folder = extract(args.mirror, args.ref, name, Path(tmp))
            try:
                rows, _ = check_record(folder)
            except PgolfError as e:
                errors.append(f"{folder.name}: {e}")
                continue
            for r in rows:
                counts[r.key][r.status] += 1
                if r.status == "fail":
                    fails.append((r.key, folder.name, r.reason))
    print(f"{len(names)} records folders in {args.ref}:records/{args.track}")
    print(f"{'check':<52}{'pass':>6}{'fail':>6}{'unknown':>9}")
    for k, title in ROWS.items():
        c = counts[k]
        print(f"{title:<52}{c['pass']:>6}{c['fail']:>6}{c['unknown']:>9}")
    for e in errors:
        print(f"not checked: {e}")
    print("\nfails:")
    for key, name, reason in sorted(fails):
        print(f"[{key}] {name}: {reason}")


if __name__ == "__main__":
    main()
