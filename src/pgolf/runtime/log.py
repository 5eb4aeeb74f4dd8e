"""One logger: rank-0 console lines, a text log and `metrics.jsonl` in the run directory.

The step line has a fixed format (DESIGN.md), with the time left and, where the device's peak is known, the MFU:
    step 1200/20000 | loss 2.914 | lr×0.83 | 87 ms/step | 6.0M tok/s | 104/600 s | eta 8m16s | MFU 41.2%
A run bounded by steps (no wallclock cap) shows the estimated total instead of the cap: `… | 104/~160 s` (elapsed plus
the remaining steps at the latest ms/step — honest on a busy machine, where it grows).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

import pgolf


def _si(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.1f}{unit}"
    return f"{x:.0f}"


def eta_seconds(step: int, total: int, s_per_step: float, elapsed_s: float, budget_s: float) -> float:
    """Training time left: the remaining steps at the current pace, or the wallclock left if that comes first."""
    left = max(total - step, 0) * s_per_step
    return min(left, max(budget_s - elapsed_s, 0.0)) if budget_s > 0 else left


def duration(seconds: float) -> str:
    """1h02m, 8m16s, 42s."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s % 60:02d}s" if m else f"{s}s"


def step_line(step: int, total: int, loss: float, lr_scale: float, ms_per_step: float, tok_per_s: float,
              elapsed_s: float, budget_s: float, eta_s: float | None = None, mfu: float | None = None) -> str:
    if budget_s > 0:
        budget = f"{budget_s:.0f}"
    else:  # bounded by steps: estimated total at the current speed
        budget = f"~{elapsed_s + max(total - step, 0) * ms_per_step / 1000:.0f}"
    line = (f"step {step}/{total} | loss {loss:.3f} | lr×{lr_scale:.2f} | {ms_per_step:.0f} ms/step | "
            f"{_si(tok_per_s)} tok/s | {elapsed_s:.0f}/{budget} s")
    if eta_s is not None:
        line += f" | eta {duration(eta_s)}"
    if mfu is not None:
        line += f" | MFU {100 * mfu:.1f}%"
    return line


class RunLogger:
    def __init__(self, run_dir: Path | None, enabled: bool = True, echo: bool = True):
        self.enabled = enabled
        self.echo = echo
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.enabled and self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._log = open(self.run_dir / "train.log", "a", encoding="utf-8")
            self._metrics = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")
        else:
            self._log = self._metrics = None

    def __call__(self, msg: str = "") -> None:
        if not self.enabled:
            return
        if self.echo:
            print(msg, flush=True)
        if self._log is not None:
            self._log.write(msg + "\n")
            self._log.flush()

    def record(self, msg: str) -> None:
        """Into train.log only (the console already shows the error line the CLI prints)."""
        if self.enabled and self._log is not None:
            self._log.write(msg + "\n")
            self._log.flush()

    def metrics(self, **record) -> None:
        if self.enabled and self._metrics is not None:
            self._metrics.write(json.dumps(record, sort_keys=True) + "\n")
            self._metrics.flush()

    def close(self) -> None:
        for f in (self._log, self._metrics):
            if f is not None:
                f.close()


def git_sha() -> str | None:
    if getattr(pgolf, "__file__", None) is None:  # running from a bundled train_gpt.py: no checkout to ask
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(pgolf.__file__).parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    env = {"pgolf": pgolf.__version__, "git": git_sha(), "python": sys.version.split()[0], "torch": torch.__version__,
           "platform": platform.platform(), "cpu_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_count"] = torch.cuda.device_count()
        env["cuda"] = torch.version.cuda
    return env
