"""`pgolf compare RUN… [--by step|time]`: one table of several runs and their curves overlaid.

The table reads each run directory (pgolf.lab.rundata): recipe, steps, training seconds, ms/step, last logged train
loss, the last periodic val bpb, pre-quant and round-trip val bpb, artifact bytes and whether they fit; a value a run
did not record is "–" (a run in progress has no summary.json). The deltas are against the first run given.
"""

from __future__ import annotations

from pgolf.lab.rundata import RunData

COLUMNS = ("run", "recipe", "steps", "train_s", "ms_per_step", "train_loss", "val_bpb_periodic", "val_bpb_prequant",
           "val_bpb", "delta_bpb", "artifact_bytes", "within_budget")


def row(run: RunData) -> dict:
    s = run.summary or {}
    last = run.train[-1] if run.train else {}
    return {"run": run.name, "recipe": s.get("recipe"), "steps": s.get("steps", last.get("step")),
            "train_s": s.get("train_seconds", last.get("elapsed_s")), "ms_per_step": s.get("ms_per_step"),
            "train_loss": last.get("loss"), "val_bpb_periodic": run.val[-1]["val_bpb"] if run.val else None,
            "val_bpb_prequant": s.get("val_bpb_prequant"), "val_bpb": s.get("val_bpb"),
            "artifact_bytes": s.get("artifact_bytes"), "within_budget": s.get("within_budget")}


def compare_rows(runs: list[RunData]) -> list[dict]:
    rows = [row(r) for r in runs]
    base = rows[0]["val_bpb"] if rows else None
    for r in rows:
        r["delta_bpb"] = None if base is None or r["val_bpb"] is None else r["val_bpb"] - base
    return rows


def _cell(key: str, v) -> str:
    if v is None:
        return "–"
    if key == "delta_bpb":
        return f"{v:+.4f}"
    if key.startswith("val_bpb") or key == "train_loss":
        return f"{v:.4f}"
    if key in ("train_s", "ms_per_step"):
        return f"{v:.1f}"
    if key == "artifact_bytes":
        return f"{v:,}"
    if key == "within_budget":
        return "yes" if v else "NO"
    return str(v)


def format_rows(rows: list[dict]) -> str:
    cells = [list(COLUMNS)] + [[_cell(k, r[k]) for k in COLUMNS] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                     for line in cells)
