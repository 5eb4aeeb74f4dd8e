"""The PNG plots of `pgolf report` and `pgolf compare` (matplotlib, the optional `[plot]` extra, Agg backend).

report: curves.png (train loss and val bpb against step and against wallclock), schedules.png (lr scale, Muon
momentum, weight-decay multiplier; the logged lr scale as dots over the recomputed line), bytes.png (compressed bytes
per tensor group and code, stacked against the cap), quant_gap.png (val bpb per pipeline stage).
compare: compare_curves.png (every run's train loss and val bpb overlaid, against step or wallclock).
Each writer returns the file name it wrote (relative to the run directory), atomically (temp file, then rename).
matplotlib is imported inside the functions: the rest of pgolf never needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pgolf.lab.rundata import RunData


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401  optional dependency (the [plot] extra): probed, never required
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib  # optional dependency (the [plot] extra), imported only when plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg"): no display needed

    return plt


def _save(fig, path: Path) -> str:
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    _pyplot().close(fig)
    return path.name


def _curves(axes, run: RunData, label: str | None = None, color=None) -> None:
    """axes: [[loss/step, loss/time], [bpb/step, bpb/time]]."""
    for col in range(2):
        s, t, loss = run.series("loss")
        if loss.size:
            axes[0][col].plot(s if col == 0 else t, loss, label=label, color=color, lw=1.2)
        vs, vt, bpb = run.series("val_bpb", "val")
        if bpb.size:
            axes[1][col].plot(vs if col == 0 else vt, bpb, "o-", label=label, color=color, lw=1.2, ms=3)


def _curve_axes(plt, title: str):
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), layout="constrained")
    for col, xl in enumerate(("step", "training wallclock (s)")):
        axes[0][col].set_title(f"train loss vs {xl.split(' (')[0]}")
        axes[1][col].set_title(f"val bpb vs {xl.split(' (')[0]}")
        for row in range(2):
            axes[row][col].set_xlabel(xl)
            axes[row][col].grid(alpha=0.3)
        axes[0][col].set_ylabel("loss (nats/token)")
        axes[1][col].set_ylabel("val bpb")
    fig.suptitle(title)
    return fig, axes


def report_plots(run: RunData, sched: dict | None, budget: dict | None, gap: list) -> list[str]:
    plt = _pyplot()
    out = []
    fig, axes = _curve_axes(plt, f"{run.name}: curves")
    _curves(axes, run, color="C0")
    s = run.summary or {}
    if s.get("val_bpb_prequant") is not None and run.train:  # the end-of-run scores as marked points
        end_step, end_t = run.train[-1]["step"], s.get("train_seconds", run.train[-1]["elapsed_s"])
        for col, x in enumerate((end_step, end_t)):
            axes[1][col].plot([x], [s["val_bpb_prequant"]], "s", color="C1", label="pre-quant (final)")
            axes[1][col].plot([x], [s["val_bpb"]], "^", color="C3", label="artifact round trip (final)")
            axes[1][col].legend(fontsize=8)
    out.append(_save(fig, run.path / "curves.png"))

    if sched is not None:
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
        for ax, key, title in zip(axes, ("lr_scale", "muon_momentum", "wd_scale"),
                                  ("lr scale (× base lr)", "Muon momentum", "weight-decay multiplier")):
            ax.plot(sched["step"], sched[key], lw=1.4, label="config (recomputed)")
            ax.set_title(title)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        ls, _, lv = run.series("lr_scale")
        if lv.size:  # the logged scale applied at step s-1 (the record is written after the step)
            axes[0].plot(ls - 1, lv, ".", color="C3", label="logged")
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{run.name}: schedules")
        out.append(_save(fig, run.path / "schedules.png"))

    if budget is not None:  # top: against the cap; bottom: the same bar zoomed to its own length
        fig, axes = plt.subplots(2, 1, figsize=(9, 4.2), layout="constrained")
        parts = list(budget["groups"].items()) + ([("code", budget["code_bytes"])] if budget["code_bytes"] else [])
        cap = budget["max_bytes"]
        total = budget["model_bytes"] + (budget["code_bytes"] or 0)
        for ax, xmax in zip(axes, (max(cap, total) * 1.05, None)):
            left = 0
            for i, (g, b) in enumerate(parts):
                ax.barh([0], [b], left=left, color=f"C{i % 10}", label=f"{g} {b:,}")
                left += b
            ax.set_xlim(0, xmax or left * 1.02)
            ax.set_yticks([])
            if xmax:
                ax.axvline(cap, color="k", ls="--", label=f"cap {cap:,}")
        axes[1].set_xlabel("bytes (each group compressed alone; their sum "
                           f"{left:,} vs the real model file + code {total:,})")
        axes[0].set_title(f"{run.name}: byte budget — artifact {total:,} of {cap:,} ({100 * total / cap:.2f}%)")
        axes[1].set_title("zoomed to the artifact", fontsize=9)
        axes[0].legend(fontsize=8, loc="lower right", ncol=4)
        out.append(_save(fig, run.path / "bytes.png"))

    measured = [(st, b) for st, b in gap if b is not None]
    if measured:
        fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
        names, vals = zip(*measured)
        bars = ax.bar(range(len(vals)), vals, color=[f"C{i}" for i in range(len(vals))])
        for bar, v in zip(bars, vals):
            ax.annotate(f"{v:.4f}", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(vals)), names, rotation=15, fontsize=8)
        lo, hi = min(vals), max(vals)
        pad = max(hi - lo, 1e-3)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel("val bpb")
        missing = [st for st, b in gap if b is None]
        ax.set_title(f"{run.name}: quantization gap" + (f" (not measured: {', '.join(missing)})" if missing else ""),
                     fontsize=9)
        out.append(_save(fig, run.path / "quant_gap.png"))
    return out


def compare_plot(runs: list[RunData], out_path: Path, by: str) -> str:
    """Every run's train loss and val bpb overlaid against `by`: "step" or "time" (training wallclock)."""
    plt = _pyplot()
    fig, (a_loss, a_bpb) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    col = 0 if by == "step" else 1
    for i, run in enumerate(runs):
        s, t, loss = run.series("loss")
        vs, vt, bpb = run.series("val_bpb", "val")
        if loss.size:
            a_loss.plot((s, t)[col], loss, color=f"C{i % 10}", lw=1.2, label=run.name)
        if bpb.size:
            a_bpb.plot((vs, vt)[col], bpb, "o-", color=f"C{i % 10}", lw=1.2, ms=3, label=run.name)
    xl = "step" if by == "step" else "training wallclock (s)"
    for ax, title, yl in ((a_loss, "train loss", "loss (nats/token)"), (a_bpb, "val bpb", "val bpb")):
        ax.set_title(f"{title} vs {by}")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(f"compare: {len(runs)} runs")
    return _save(fig, out_path)
