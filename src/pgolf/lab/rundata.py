"""Read a pgolf run directory: config.json, metrics.jsonl (train and val records), summary.json.

The trainer writes one JSON object per line to metrics.jsonl (runtime/log.py): training records
{step, loss, lr_scale, ms_per_step, elapsed_s[, mfu]} and validation records {step, val_loss, val_bpb}. Validation
runs before the step of the same number with the clock paused, so its wallclock position is the training clock at
that step, interpolated from the training records (0 s at step 0). A run still in progress (or killed) has no
summary.json; its curves are read all the same and every consumer says what is missing. A broken line is an error
naming file and line, except a truncated last line (a run killed mid-write), which is skipped with a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pgolf.errors import PgolfError


@dataclass
class RunData:
    path: Path
    train: list[dict]
    val: list[dict]
    config: dict | None = None
    summary: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def series(self, key: str, records: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(step, elapsed_s, value) arrays of `key` over the train or val records that have it."""
        rows = [r for r in (self.train if records == "train" else self.val) if r.get(key) is not None]
        return (np.array([r["step"] for r in rows], dtype=float), np.array([r["elapsed_s"] for r in rows], dtype=float),
                np.array([r[key] for r in rows], dtype=float))

    def elapsed_at(self, steps) -> np.ndarray:
        """Training-clock seconds at the given steps, interpolated from the training records (0 s at step 0)."""
        s = [0.0] + [float(r["step"]) for r in self.train]
        t = [0.0] + [float(r["elapsed_s"]) for r in self.train]
        return np.interp(np.asarray(steps, dtype=float), s, t)


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PgolfError(f"{path}: not readable JSON ({e})") from None


def load_run(path: str | Path) -> RunData:
    """A run directory → RunData; a path that is not a run directory is a one-line error."""
    path = Path(path)
    mfile = path / "metrics.jsonl"
    if not path.is_dir():
        raise PgolfError(f"{path}: not a directory (expected a pgolf run directory with metrics.jsonl)")
    if not mfile.is_file():
        raise PgolfError(f"{path}: no metrics.jsonl — not a pgolf run directory")
    lines = mfile.read_text(encoding="utf-8", errors="replace").splitlines()
    train, val, notes = [], [], []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines):
                notes.append(f"{mfile}:{i}: truncated last line skipped (run killed mid-write?)")
                continue
            raise PgolfError(f"{mfile}:{i}: not a JSON record ({e.msg})") from None
        if not isinstance(rec, dict) or "step" not in rec:
            raise PgolfError(f"{mfile}:{i}: expected a JSON object with a 'step' field")
        if "val_bpb" in rec:
            val.append(rec)
        elif "loss" in rec:
            train.append(rec)
    run = RunData(path, train, val, _read_json(path / "config.json"), _read_json(path / "summary.json"), notes)
    if run.val:
        for r, t in zip(run.val, run.elapsed_at([r["step"] for r in run.val])):
            r.setdefault("elapsed_s", float(t))
    if not train:
        notes.append(f"{mfile}: no training records")
    if run.summary is None:
        notes.append(f"{path / 'summary.json'}: absent (run in progress or stopped before the end)")
    return run
