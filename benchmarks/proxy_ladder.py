"""The recipe ladder on a proxy corpus, side by side: every recipe shrunk by `--tiny`, same data, equal steps and
(with --equal-wallclock) equal wallclock.

Usage (CPU is fine; from the repo root):
    python benchmarks/proxy_ladder.py --data ../shared/data/gutenberg_sp1024 \
        --tokenizer ../shared/tokenizers/fineweb_1024_bpe.model --iterations 300 --out runs/ladder [key=value …]
    python benchmarks/proxy_ladder.py --data /work/caseops_proxy/datasets/sp8192_caseops \
        --tokenizer /work/caseops_proxy/tokenizers/sp8192_caseops.model --recipes pr1473 pr1855 pr2135 \
        --iterations 150 --warmdown 0 --eval-tokens 16384 --ttt-batch-docs 4 --ttt-prefix-docs 8 \
        --ttt-phase-chunk 2048 --equal-wallclock --timing-rounds 2 --timing-steps 20 \
        --out runs/ladder_caseops model.vocab_size=8192     # issue 17's frontier ladder (docs/LOG.md, 2026-12-02)
(--warmdown 0 keeps each recipe's own LR schedule as `tiny` scales it; the default forces the last 100 steps.)

Each recipe keeps its techniques, optimizer routing, averaging, QAT, export policy and eval TTT at tiny size (4 layers
× d 128, seq 256); the budget is iteration-based, step-bound schedules keep their share of the run
(pgolf.recipes.run_length), and every recipe is scored on the first `--eval-tokens` tokens of the val split
(non-sliding, the recipe's own doc_aware setting), with the bytes the scorer counts (the byte sidecar when the data
has one: CaseOps). Columns:
* pre-quant bpb: the final (averaged) weights before export; round-trip bpb: the artifact decoded and scored
  without TTT (re-evaluated here from model.pga); TTT bpb: the run's final score with the recipe's own eval.ttt
  (phased LoRA for pr1855/pr2135, with the n-gram tilt for pr2135), "—" for a recipe without TTT;
* model / code / total bytes: the artifact, the bundled train_gpt.py its config ships as (`pgolf bundle`), the sum;
* train s: the training loop; eval s: the run's post-training part (averaging, calibration, export, round-trip
  scoring with TTT). Absolute seconds on a shared machine are noise; compare within one table only.
The TTT span is bounded identically for every recipe that has one: eval.ttt.lora.batch_docs = --ttt-batch-docs,
eval.ttt.phased.prefix_docs = --ttt-prefix-docs (their phase boundaries fall inside the scored prefix),
eval.ttt.phased.chunk_tokens = --ttt-phase-chunk (the global phase skips its last chunk: with #1855's 32K chunks a
small prefix would train nothing).

--equal-wallclock (method in benchmarks/ladder_wallclock.py): each recipe's ms/step is measured in interleaved
short timing runs (--timing-rounds rounds of --timing-steps steps, order rotated per round); recipe i then trains
round(iterations · min_j m_j / m_i) steps — the fastest recipe gets the equal-steps count, so its equal-wallclock
row is its equal-steps run (same config and seed; not trained twice). The measured ms/step, their ratios and the
step counts are printed. A proxy figure must never be compared with a FineWeb one.

--seed is train.seed: the initial weights (and pr1473's generated GPTQ calibration), not the data order — the
recipes' sequential (pr1473) and packed (pr1855, pr2135) streams take no seed, as the records' loaders
(tests/benchmarks/test_proxy_ladder_seed.py); the TTT adapters' A draw is eval.ttt.lora.seed (0) for every --seed.
Two ladder seeds thus measure the init's spread only (docs/LOG.md, "CaseOps proxy ladder, second seed").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ladder_wallclock as wc  # noqa: E402  (a sibling helper, not a package)

from pgolf.artifact.model_file import load_model  # noqa: E402
from pgolf.config import override, parse_overrides  # noqa: E402
from pgolf.data.shards import load_split  # noqa: E402
from pgolf.data.tokenizer import load_sentencepiece  # noqa: E402
from pgolf.errors import PgolfError  # noqa: E402
from pgolf.eval.accounting import val_accounting  # noqa: E402
from pgolf.eval.run import evaluate_config  # noqa: E402
from pgolf.eval.standard import trim_val  # noqa: E402
from pgolf.recipes import get_recipe, tiny  # noqa: E402
from pgolf.runtime.dist import init_runtime  # noqa: E402
from pgolf.train.run import run  # noqa: E402

DEFAULT = ["baseline", "pr198", "pr295", "pr443", "pr601", "pr1473"]


def ladder_config(name: str, iterations: int, a, extra: dict | None = None):
    """Recipe `name` at tiny size on the ladder's data, eval span and TTT bounds, then the CLI's key=value words."""
    r = get_recipe(name)  # EMA horizon / SWA cadence scaled to this many steps (pgolf.recipes.run_length)
    cfg = override(tiny(r.build(), iterations, r.reported.get("steps")), {
        "data.path": str(a.data), "data.tokenizer": str(a.tokenizer), "train.iterations": iterations,
        "train.batch_tokens": a.batch_tokens, "train.seed": a.seed, "train.log_every": max(1, iterations // 5),
        "eval.stride": 0, "eval.seq_len": 0, "eval.max_tokens": a.eval_tokens,
    })
    if a.warmdown > 0:  # else the recipe's own warmdown (fraction, or its iterations scaled by tiny)
        cfg = override(cfg, {"schedule.warmdown_iters": min(a.warmdown, iterations),
                             "schedule.warmdown_mode": "iterations"})
    t = cfg.eval.ttt
    bounds = {}
    if t is not None and t.lora is not None:
        bounds["eval.ttt.lora.batch_docs"] = a.ttt_batch_docs
    if t is not None and t.phased is not None:
        bounds["eval.ttt.phased.prefix_docs"] = a.ttt_prefix_docs
        bounds["eval.ttt.phased.chunk_tokens"] = a.ttt_phase_chunk
    return override(override(cfg, bounds), {**parse_overrides(a.overrides), **(extra or {})})


def round_trip_bpb(run_dir: Path, cfg) -> tuple[float, int, str]:
    """The run's artifact scored without TTT on the ladder's eval span → (bpb, scored tokens, byte accounting)."""
    rt = init_runtime("cpu")
    model, _ = load_model(run_dir / "model.pga", rt.device)
    T = cfg.eval.seq_len or cfg.train.seq_len
    val = trim_val(np.asarray(load_split(Path(cfg.data.path), "val", cfg.model.vocab_size)), T, cfg.eval.max_tokens)
    sp = load_sentencepiece(cfg.data.tokenizer)
    acct = val_accounting(Path(cfg.data.path), sp, cfg.model.vocab_size, val, rt.device, cfg.data.tokenizer)
    r, _ = evaluate_config(model.eval(), val, cfg.eval, T, acct, rt, with_ttt=False,
                           control_patterns=cfg.quant.control_patterns)
    return r.val_bpb, r.scored_tokens, r.accounting


def train_and_score(name: str, iterations: int, a, out: Path, label: str) -> dict:
    cfg = ladder_config(name, iterations, a)
    t0 = time.perf_counter()
    s = run(cfg, out, recipe=f"{name}+tiny", echo=False)
    rt_bpb, scored, acct = round_trip_bpb(out, cfg)
    ttt = s["val_bpb"] if cfg.eval.ttt is not None else None
    if ttt is None and abs(rt_bpb - s["val_bpb"]) > 1e-9:  # the re-evaluation must be the run's own round trip
        raise SystemExit(f"{out}: round-trip re-evaluation {rt_bpb:.6f} ≠ the run's {s['val_bpb']:.6f}")
    row = {"recipe": name, "budget": label, "params": s["params"], "steps": s["steps"],
           "val_bpb_prequant": s["val_bpb_prequant"], "val_bpb_roundtrip": rt_bpb, "val_bpb_ttt": ttt,
           "model_bytes": s["model_bytes"], "code_bytes": s["code_bytes"], "total_bytes": s["artifact_bytes"],
           "train_seconds": s["train_seconds"], "eval_seconds": s["eval_seconds"], "scored_tokens": scored,
           "bytes_accounting": acct, "ttt": s["eval_ttt"] and {k: v for k, v in s["eval_ttt"].items() if k != "kept"},
           "wall_seconds": time.perf_counter() - t0, "run_dir": str(out)}
    print(json.dumps(row, default=str), file=sys.stderr, flush=True)
    return row


def fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def table(rows: list[dict]) -> str:
    out = ["| budget | recipe (--tiny) | params | steps | pre-quant bpb | round-trip bpb | TTT bpb | model bytes "
           "| code bytes | total bytes | train s | eval s |", "|" + "---|" * 12]
    for r in rows:
        out.append(f"| {r['budget']} | {r['recipe']} | {r['params']:,} | {r['steps']} | {r['val_bpb_prequant']:.4f} "
                   f"| {r['val_bpb_roundtrip']:.4f} | {fmt(r['val_bpb_ttt'], '.4f')} | {r['model_bytes']:,} "
                   f"| {r['code_bytes']:,} | {r['total_bytes']:,} | {r['train_seconds']:.0f} "
                   f"| {r['eval_seconds']:.0f} |")
    return "\n".join(out)


def timing_train(a):
    def train(name: str, steps: int, out: Path) -> Path:
        cfg = ladder_config(name, steps, a, {**wc.LIGHT, "train.log_every": 1})
        run(cfg, out, recipe=f"{name}+tiny (timing)", echo=False)
        return out
    return train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--recipes", nargs="+", default=DEFAULT)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--warmdown", type=int, default=100, help="LR warmdown: the last N steps (0: the recipe's own)")
    ap.add_argument("--batch-tokens", type=int, default=8 * 256)
    ap.add_argument("--eval-tokens", type=int, default=262_144)
    ap.add_argument("--ttt-batch-docs", type=int, default=16, help="eval.ttt.lora.batch_docs for every TTT recipe")
    ap.add_argument("--ttt-prefix-docs", type=int, default=48, help="eval.ttt.phased.prefix_docs (phased recipes)")
    ap.add_argument("--ttt-phase-chunk", type=int, default=4096,
                    help="eval.ttt.phased.chunk_tokens: #1855's 32,768 = 16 rows of 2,048; 4,096 = 16 rows of 256")
    ap.add_argument("--equal-wallclock", action="store_true", help="also train at equal wallclock (ratios measured)")
    ap.add_argument("--timing-rounds", type=int, default=3)
    ap.add_argument("--timing-steps", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--out", type=Path, default=Path("runs/ladder"))
    ap.add_argument("overrides", nargs="*", metavar="key=value", help="applied to every recipe after tiny()")
    a = ap.parse_args(argv)
    log = lambda m: print(f"# {m}", file=sys.stderr, flush=True)  # noqa: E731
    steps, ms, samples = {n: a.iterations for n in a.recipes}, {}, {}
    if a.equal_wallclock:  # measured first, so the machine's state is that of the trainings that follow
        samples = wc.measure(a.recipes, a.timing_rounds, timing_train(a), a.timing_steps, a.out, log)
        ms = wc.median_ms(samples)
        steps = wc.wallclock_steps(ms, a.iterations)
        fastest = min(ms.values())
        log("equal wallclock: median ms/step " + ", ".join(f"{n} {m:.0f} (×{m / fastest:.3f})" for n, m in ms.items())
            + f" → steps {steps} (budget: {a.iterations} steps of the fastest)")
    rows = [train_and_score(n, a.iterations, a, a.out / f"steps_{n}", f"equal steps ({a.iterations})")
            for n in a.recipes]
    if a.equal_wallclock:
        for n in a.recipes:
            if steps[n] == a.iterations:  # the fastest: the same run as its equal-steps row
                rows.append({**next(r for r in rows if r["recipe"] == n), "budget": "equal wallclock (= steps run)"})
            else:
                rows.append(train_and_score(n, steps[n], a, a.out / f"wall_{n}", "equal wallclock"))
    (a.out / "ladder.json").write_text(json.dumps({"rows": rows, "steps": steps, "ms_per_step": ms, "ms_samples": samples, "args": vars(a)}, indent=2,
                                                  default=str))
    print(table(rows))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except PgolfError as e:  # a bad recipe name or key=value: one line, no traceback
        raise SystemExit(f"error: {e}") from None
