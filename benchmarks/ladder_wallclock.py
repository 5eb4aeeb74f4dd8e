"""Equal-wallclock step budgets for benchmarks/proxy_ladder.py, from step-time RATIOS measured side by side.

On a shared machine absolute seconds are noise (other jobs come and go), so a wallclock budget is not a number of
seconds here: each recipe's ms/step is measured in short timing runs interleaved round-robin (round r runs the
recipes in an order rotated by r, so a slow spell of the machine falls on every recipe alike), its median over the
rounds is taken, and the budget is "`steps` steps of the fastest recipe": recipe i gets
round(steps · min_j m_j / m_i) steps (at least 1). The fastest recipe thus gets exactly the equal-steps count.

A timing run is the recipe's own `--tiny` training (same data, batch, techniques, recurrence switch at the same
fraction of the run) for `timing_steps` steps with the export and eval cut to the minimum (no GPTQ, no LQER, no
per-group search, no TTT, a 2,048-token eval); its ms/step is the mean over steps 2..K from the run's
metrics.jsonl `elapsed_s` (the first step carries one-off set-up costs and is left out; a mean, not a median,
because a looped recipe's steps are bimodal — before and after the looping switch — and the budget must pay both).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path

LIGHT = {"eval.ttt": None, "eval.max_tokens": 2048, "quant.gptq": None, "quant.lqer": None, "artifact.pergroup": None}


def ms_per_step(elapsed_s: list[float], skip: int = 1) -> float:
    """Mean ms per step over steps skip+1..K, from the cumulative elapsed seconds after each step 1..K."""
    if len(elapsed_s) <= skip:
        raise ValueError(f"need more than {skip} logged steps, got {len(elapsed_s)}")
    e = [0.0, *elapsed_s]
    return 1000.0 * (e[-1] - e[skip]) / (len(elapsed_s) - skip)


def rotated_orders(names: list[str], rounds: int) -> list[list[str]]:
    """Round r runs the recipes starting at index r mod n (each recipe is first, second, … equally often)."""
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(rounds)]


def median_ms(samples: dict[str, list[float]]) -> dict[str, float]:
    return {k: statistics.median(v) for k, v in samples.items()}


def wallclock_steps(ms: dict[str, float], steps: int) -> dict[str, int]:
    """Steps per recipe for a budget of `steps` steps of the fastest recipe (module docstring)."""
    fastest = min(ms.values())
    return {k: max(1, round(steps * fastest / m)) for k, m in ms.items()}


def elapsed_from_metrics(path: Path) -> list[float]:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [r["elapsed_s"] for r in rows if "elapsed_s" in r and "step" in r]


def measure(names: list[str], rounds: int, train: Callable[[str, int, Path], Path], timing_steps: int,
            out: Path, log: Callable[[str], None]) -> dict[str, list[float]]:
    """Interleaved timing runs: train(name, timing_steps, run_dir) → run_dir with metrics.jsonl (log_every 1)."""
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r, order in enumerate(rotated_orders(names, rounds)):
        for name in order:
            run_dir = train(name, timing_steps, out / f"timing_r{r}_{name}")
            samples[name].append(ms_per_step(elapsed_from_metrics(run_dir / "metrics.jsonl")))
            log(f"timing round {r} {name}: {samples[name][-1]:.0f} ms/step")
    return samples
