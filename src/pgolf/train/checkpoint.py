"""Checkpoints: a killed run resumes where it stopped and ends where an uninterrupted run ends.

Every `every` steps (and never on the last one) the trainer writes <dir>/step_NNNNNNN/:
  shared.pt (rank 0): step, counted wallclock seconds, world size, config hash, the model's state dict, the
            optimizers' state dicts (when identical on every rank: Adam, replicated Muon), the averager (EMA
            shadow / SWA sums), whether QAT is on, whether the model loops (depth recurrence);
  rankR.pt  (every rank): CPU and CUDA RNG states, the loader position (`loader.state()`, stored as JSON) and, for
            sharded Muon, that rank's optimizer states.
Each file is written to a temporary name and renamed; after a barrier rank 0 atomically replaces <dir>/latest.json,
which is what makes a checkpoint exist, then deletes all but the newest `keep`. On start, a run whose checkpoint
dir has latest.json loads it after compile priming (same config hash and world size required, else a one-line
error) and continues at the saved step with the saved wallclock; saving time is not counted, like validation.
The checkpoint dir must be visible to every rank (one filesystem for a multi-node run).
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from pgolf.artifact.pack import write_atomic
from pgolf.errors import PgolfError


@dataclass(frozen=True)
class CheckpointConfig:
    """Resumable training state every `every` steps; a run finding <dir>/latest.json resumes from it."""

    every: int = 200
    dir: str = ""  # "" = <run dir>/checkpoints; all ranks must see it
    keep: int = 1


@dataclass
class Resumable:
    """Everything a step depends on."""

    model: nn.Module
    optimizers: list
    loader: object
    averager: object | None = None
    qat: object | None = None
    per_rank_optim: bool = False  # sharded Muon: optimizer state differs per rank


def _plain(x):
    """numpy scalars in a loader state → Python numbers (the state is stored as JSON)."""
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"loader state holds a {type(x).__name__}, which a checkpoint cannot store as JSON")


def _save(path: Path, obj) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_atomic(path, buf.getvalue())


def _load(path: Path, device: torch.device):
    """weights_only=True: tensors and plain containers only — a checkpoint from elsewhere cannot run code."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PgolfError(f"{path}: cannot read checkpoint ({why})") from None


class Checkpointer:
    def __init__(self, cfg: CheckpointConfig, run_dir: Path, rt, config_hash: str):
        self.every, self.keep = cfg.every, cfg.keep
        self.dir = Path(cfg.dir) if cfg.dir else Path(run_dir) / "checkpoints"
        self.rt, self.config_hash = rt, config_hash

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def _barrier(self) -> None:
        if self.rt.distributed:
            dist.barrier()

    def save(self, step: int, elapsed_s: float, parts: Resumable) -> Path:
        rt = self.rt
        d = self.dir / f"step_{step:07d}"
        d.mkdir(parents=True, exist_ok=True)
        optim = [o.state_dict() for o in parts.optimizers]
        mine = {"rng": torch.get_rng_state(), "loader": json.dumps(parts.loader.state(), default=_plain),
                "cuda_rng": torch.cuda.get_rng_state(rt.device) if rt.is_cuda else None,
                "optim": optim if parts.per_rank_optim else None}
        _save(d / f"rank{rt.rank}.pt", mine)
        if rt.is_main:
            _save(d / "shared.pt", {
                "step": step, "elapsed": elapsed_s, "world": rt.world_size, "config_hash": self.config_hash,
                "model": parts.model.state_dict(), "optim": None if parts.per_rank_optim else optim,
                "averager": parts.averager.state_dict() if parts.averager is not None else None,
                "qat_active": parts.qat.active if parts.qat is not None else None,
                "looping": getattr(parts.model, "looping", None)})
        self._barrier()
        if rt.is_main:
            write_atomic(self.dir / "latest.json", json.dumps({"step": step, "dir": d.name}).encode())
            old = sorted(p for p in self.dir.glob("step_*") if p.is_dir() and p.name != d.name)
            for p in old[: max(len(old) - (self.keep - 1), 0)]:
                shutil.rmtree(p, ignore_errors=True)
        self._barrier()
        return d

    def latest(self) -> Path | None:
        f = self.dir / "latest.json"
        if not f.exists():
            return None
        try:
            return self.dir / json.loads(f.read_text())["dir"]
        except (ValueError, KeyError) as e:
            raise PgolfError(f"{f}: not a checkpoint pointer ({e})") from None

    def load(self, parts: Resumable) -> tuple[int, float] | None:
        """Restore the newest checkpoint into `parts`; → (step, counted seconds), or None when there is none."""
        d = self.latest()
        if d is None:
            return None
        rt = self.rt
        shared = _load(d / "shared.pt", rt.device)
        if shared["config_hash"] != self.config_hash:
            raise PgolfError(f"{d}: checkpoint of config {shared['config_hash']}, this run is {self.config_hash} "
                             f"(resume with the same config or use another train.checkpoint.dir)")
        if shared["world"] != rt.world_size:
            raise PgolfError(f"{d}: checkpoint written by {shared['world']} ranks, this run has {rt.world_size}")
        mine = _load(d / f"rank{rt.rank}.pt", rt.device)
        parts.model.load_state_dict(shared["model"], strict=True)
        optim = mine["optim"] if parts.per_rank_optim else shared["optim"]
        for o, s in zip(parts.optimizers, optim, strict=True):
            o.load_state_dict(s)
        if parts.averager is not None:
            parts.averager.load_state_dict(shared["averager"])
        if parts.qat is not None:
            parts.qat.active = bool(shared["qat_active"])
        if shared.get("looping") is not None:  # depth recurrence's switch (pgolf.model.features.recurrence)
            parts.model.set_looping(bool(shared["looping"]))
        parts.loader.load_state(json.loads(mine["loader"]))
        torch.set_rng_state(mine["rng"].cpu())
        if mine["cuda_rng"] is not None:
            torch.cuda.set_rng_state(mine["cuda_rng"].cpu(), rt.device)
        return int(shared["step"]), float(shared["elapsed"])
