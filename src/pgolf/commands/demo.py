"""`pgolf demo [--out DIR] [key=value …]`: the main job end to end on the built-in demo corpus.
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

import time
from pathlib import Path


def cmd_demo(args) -> int:
    # heavy (torch), cold path: the config tree, the demo corpus and the run are imported only when the verb runs
    from pgolf.config import override, parse_overrides
    from pgolf.data.demo_corpus import prepare_demo
    from pgolf.recipes import get_recipe
    from pgolf.train.run import run

    t0 = time.perf_counter()
    data_dir, tok = prepare_demo()
    cfg = override(get_recipe("demo").build(), {"data.path": str(data_dir), "data.tokenizer": str(tok),
                                                  **parse_overrides(args.overrides)})
    out = Path(args.out) if args.out else Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    s = run(cfg, out, recipe="demo")
    print(f"demo done in {time.perf_counter() - t0:.0f} s | val_bpb {s['val_bpb']:.4f} after the artifact round "
          f"trip (pre-quant {s['val_bpb_prequant']:.4f}) | {s['artifact_bytes']:,} bytes | {out / 'summary.json'}")
    return 0


def register(sub) -> None:
    d = sub.add_parser("demo", help="the main job end to end on the built-in demo corpus (CPU, ~2 min)")
    d.add_argument("--out", help="run directory (default runs/demo-TIMESTAMP)")
    d.add_argument("overrides", nargs="*", metavar="key=value")
    d.set_defaults(fn=cmd_demo)
