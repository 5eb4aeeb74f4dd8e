"""The seed ladder on the proxy corpus, side by side: every recipe shrunk by `--tiny`, same data, same step budget.

Usage (CPU is fine; from the repo root):
    python benchmarks/proxy_ladder.py --data ../shared/data/gutenberg_sp1024 \
        --tokenizer ../shared/tokenizers/fineweb_1024_bpe.model --iterations 300 --out runs/ladder [key=value …]

Each recipe keeps its techniques, optimizer routing, averaging, QAT and export policy at tiny size (4 layers × d 128,
seq 256); the budget is iteration-based (the same for all), the LR warmdown is the last `--warmdown` steps, and the
headline is the round-trip val_bpb on the first `--eval-tokens` tokens of the val split (non-sliding, so every
recipe is scored on exactly the same targets). This measures technique deltas at a size where a 2-core CPU can
train them; it does not predict the full-size ordering, and a proxy figure must never be compared with a FineWeb one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pgolf.config import override, parse_overrides
from pgolf.errors import PgolfError
from pgolf.recipes import get_recipe, tiny
from pgolf.train.run import run

DEFAULT = ["baseline", "pr198", "pr295", "pr443", "pr601", "pr1473"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--recipes", nargs="+", default=DEFAULT)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--warmdown", type=int, default=100)
    ap.add_argument("--batch-tokens", type=int, default=8 * 256)
    ap.add_argument("--eval-tokens", type=int, default=262_144)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--out", type=Path, default=Path("runs/ladder"))
    ap.add_argument("overrides", nargs="*", metavar="key=value", help="applied to every recipe after tiny()")
    a = ap.parse_args(argv)
    rows = []
    for name in a.recipes:
        r = get_recipe(name)  # EMA horizon / SWA cadence scaled to this many steps (pgolf.recipes.run_length)
        cfg = override(tiny(r.build(), a.iterations, r.reported.get("steps")), {
            "data.path": str(a.data), "data.tokenizer": str(a.tokenizer), "train.iterations": a.iterations,
            "schedule.warmdown_iters": a.warmdown, "schedule.warmdown_mode": "iterations",
            "train.batch_tokens": a.batch_tokens, "train.seed": a.seed, "train.log_every": max(1, a.iterations // 5),
            "eval.stride": 0, "eval.seq_len": 0, "eval.max_tokens": a.eval_tokens,
        })
        cfg = override(cfg, parse_overrides(a.overrides))
        t0 = time.perf_counter()
        tag = " ".join(a.overrides)
        s = run(cfg, a.out / name, recipe=f"{name}+tiny", echo=False)
        rows.append({"recipe": f"{name} {tag}".strip(), "params": s["params"], "steps": s["steps"], "val_bpb": s["val_bpb"],
                     "val_bpb_prequant": s["val_bpb_prequant"], "model_bytes": s["model_bytes"],
                     "train_seconds": s["train_seconds"], "wall_seconds": time.perf_counter() - t0})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| recipe (--tiny) | params | steps | pre-quant bpb | round-trip bpb | model bytes | train s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['recipe']} | {r['params']:,} | {r['steps']} | {r['val_bpb_prequant']:.4f} | {r['val_bpb']:.4f} "
              f"| {r['model_bytes']:,} | {r['train_seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except PgolfError as e:  # a bad recipe name or key=value: one line, no traceback
        raise SystemExit(f"error: {e}") from None
