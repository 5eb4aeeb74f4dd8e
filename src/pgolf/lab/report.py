"""`pgolf report RUN_DIR`: a run's story as report.md plus PNG plots in the run directory.

Sections: the headline (summary.json), train loss and val bpb against step and wallclock, the lr / Muon momentum /
weight-decay schedules, the byte budget by tensor group against the cap, and the quantization gap.
* Schedules are recomputed from the run's config.json with the trainer's own pure functions (pgolf.optim.schedule)
  at every step, the wallclock of each step interpolated from metrics.jsonl; the lr scale the trainer logged is
  drawn over them as a check.
* Bytes: `pgolf.artifact.size.breakdown` of the run's artifact (each group compressed alone with the file's codec,
  so groups do not add up exactly to the file) plus the code bytes summary.json counted, against `max_bytes`.
* Quantization gap: pre-quant val bpb (after EMA/SWA; the last weights before averaging when recorded) → round trip
  through the artifact → the same with TTT. A run with eval.ttt scores the round trip only with TTT (the run does not
  spend a second evaluation), so its "round trip without TTT" is reported as not measured, never guessed.
Plots need matplotlib (`pip install 'pgolf[plot]'`); without it report.md is written with the tables alone and the
command says so in one line.
"""

from __future__ import annotations

from pathlib import Path

from pgolf.artifact.pack import write_atomic
from pgolf.artifact.size import breakdown
from pgolf.config import Config, from_dict
from pgolf.errors import PgolfError
from pgolf.lab import plots as P
from pgolf.lab.rundata import RunData, load_run
from pgolf.optim.schedule import lr_scale, muon_momentum, wd_scale

PLOT_HINT = "matplotlib is not installed: pip install 'pgolf[plot]' for the PNG plots"


def schedules(run: RunData) -> dict | None:
    """{step, elapsed_s, lr_scale, muon_momentum, wd_scale} lists recomputed from config.json, or None without it."""
    if run.config is None or not run.train:
        return None
    try:
        cfg = from_dict(Config, run.config)
    except (TypeError, ValueError, KeyError, PgolfError) as e:
        raise PgolfError(f"{run.path / 'config.json'}: not a config this pgolf can read ({e})") from None
    last = int(run.train[-1]["step"])
    steps = list(range(last))
    elapsed = run.elapsed_at(steps)
    it, cap, o, sc = cfg.train.iterations, cfg.train.max_wallclock_seconds, cfg.optim, cfg.schedule
    return {"step": steps, "elapsed_s": list(map(float, elapsed)),
            "lr_scale": [lr_scale(s, float(t), sc, it, cap) for s, t in zip(steps, elapsed)],
            "muon_momentum": [muon_momentum(s, o.muon_momentum, o.muon_momentum_warmup_start,
                                            o.muon_momentum_warmup_steps) for s in steps],
            "wd_scale": [wd_scale(s, float(t), sc.wd_taper, it, cap) for s, t in zip(steps, elapsed)]}


def byte_budget(run: RunData) -> dict | None:
    """Per-group compressed bytes of the run's artifact, the code bytes and the cap; None without an artifact."""
    s = run.summary or {}
    path = Path(s.get("artifact_path", run.path / "model.pga"))
    if not path.is_file():
        path = run.path / "model.pga"  # the run directory moved since: its own artifact
    if not path.is_file():
        return None
    b = breakdown(path)
    groups = {g: v["compressed_bytes"] for g, v in b["groups"].items() if v["compressed_bytes"] > 0}
    return {"path": str(path), "groups": groups, "model_bytes": b["model_bytes"],
            "code_bytes": s.get("code_bytes"), "max_bytes": s.get("max_bytes", 16_000_000), "codec": b["codec"]}


def quant_gap(run: RunData) -> list[tuple[str, float | None]]:
    """[(stage, val_bpb or None when not measured)] in pipeline order."""
    s = run.summary
    if s is None:
        return []
    ttt = s.get("eval_ttt") is not None
    stages = []
    if s.get("val_bpb_last_weights") is not None:
        stages.append(("last weights (before averaging)", s["val_bpb_last_weights"]))
    stages.append(("pre-quant" + (f" ({s['averaging'].upper()})" if s.get("averaging") else ""),
                   s.get("val_bpb_prequant")))
    stages.append(("round trip (artifact)", None if ttt else s.get("val_bpb")))
    if ttt:
        stages.append(("round trip + TTT", s.get("val_bpb")))
    return stages


def _table(rows: list[tuple], head: tuple) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def _bpb(x: float | None) -> str:
    return "not measured" if x is None else f"{x:.4f}"


def render(run: RunData, sched: dict | None, budget: dict | None, gap: list, plots: list[str],
           plot_note: str | None) -> str:
    s = run.summary or {}
    lines = [f"# Run report: {run.name}", ""]
    if s:
        lines += [f"recipe **{s.get('recipe')}** | val_bpb **{s['val_bpb']:.4f}** | {s.get('artifact_bytes', 0):,} "
                  f"bytes ({'within' if s.get('within_budget') else 'OVER'} {s.get('max_bytes', 0):,}) | "
                  f"{s.get('steps')} steps in {s.get('train_seconds', 0):.1f} s ({s.get('ms_per_step', 0):.0f} "
                  f"ms/step, stopped by {s.get('stopped_by')}) | eval {s.get('eval_seconds', 0):.1f} s | "
                  f"{s.get('device')} × {s.get('world_size')}", ""]
    for n in run.notes:
        lines.append(f"> note: {n}")
    if plot_note:
        lines.append(f"> note: {plot_note}")
    lines += ["", "## Curves", ""]
    if run.train:
        first, last = run.train[0], run.train[-1]
        lines.append(f"train loss {first['loss']:.4f} at step {first['step']} → {last['loss']:.4f} at step "
                     f"{last['step']} ({last['elapsed_s']:.1f} s)")
    lines += ([""] + _table([(r["step"], f"{r['elapsed_s']:.1f}", f"{r['val_loss']:.4f}", f"{r['val_bpb']:.4f}")
                             for r in run.val], ("step", "train s", "val_loss", "val_bpb"))) if run.val else \
        ["no periodic validation (train.val_every = 0)"]
    lines += ["", "## Schedules", ""]
    if sched is None:
        lines.append("not available (no config.json or no training records)")
    else:
        ends = [(k, f"{sched[k][0]:.3f}", f"{min(sched[k]):.3f}", f"{sched[k][-1]:.3f}")
                for k in ("lr_scale", "muon_momentum", "wd_scale")]
        lines += _table(ends, ("schedule", "first step", "min", "last step"))
    lines += ["", "## Byte budget", ""]
    if budget is None:
        lines.append("no artifact in the run directory")
    else:
        cap = budget["max_bytes"]
        rows = [(g, f"{b:,}", f"{100 * b / cap:.2f}%") for g, b in budget["groups"].items()]
        if budget["code_bytes"] is not None:
            rows.append(("code", f"{budget['code_bytes']:,}", f"{100 * budget['code_bytes'] / cap:.2f}%"))
        total = budget["model_bytes"] + (budget["code_bytes"] or 0)
        rows.append(("**artifact** (model file + code)", f"**{total:,}**", f"**{100 * total / cap:.2f}%**"))
        lines += [f"`{budget['path']}` ({budget['codec']}); groups compressed alone, so they do not add up exactly "
                  f"to the model file's {budget['model_bytes']:,} bytes", ""]
        lines += _table(rows, ("group", "bytes", f"of {cap:,}"))
    lines += ["", "## Quantization gap", ""]
    if not gap:
        lines.append("no summary.json: the run has not finished")
    else:
        base = next((b for _, b in gap if b is not None), None)
        lines += _table([(st, _bpb(b), "" if b is None or base is None else f"{b - base:+.4f}") for st, b in gap],
                        ("stage", "val_bpb", "Δ vs first"))
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def make_report(run_dir: str | Path) -> tuple[Path, list[str], str | None]:
    """Write report.md (and the PNGs when matplotlib is importable) → (report path, PNG names, note or None)."""
    run = load_run(run_dir)
    sched, budget, gap = schedules(run), byte_budget(run), quant_gap(run)
    plots, note = [], None
    if P.matplotlib_available():
        plots = P.report_plots(run, sched, budget, gap)
    else:
        note = PLOT_HINT
    out = run.path / "report.md"
    write_atomic(out, render(run, sched, budget, gap, plots, note).encode())
    return out, plots, note
