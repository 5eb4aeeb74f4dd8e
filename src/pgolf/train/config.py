"""The train block of the config tree: batch, length, budget, seed, cadence, and the training-time technique blocks
(EMA / SWA in pgolf.train.averaging, QAT in pgolf.train.qat, checkpoints in pgolf.train.checkpoint, each beside its
code). Composed by the root `pgolf.config`; nothing here imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pgolf.train.averaging import EMAConfig, SWAConfig
from pgolf.train.checkpoint import CheckpointConfig
from pgolf.train.progressive_context import ProgressiveContextConfig, context_checks
from pgolf.train.qat import QATConfig

_BITS = {"none", *map(str, range(1, 17))}


@dataclass(frozen=True)
class TrainConfig:
    """The loop: batch, length, budget, seed and cadence."""

    iterations: int = 20000
    batch_tokens: int = 524_288
    seq_len: int = 1024
    grad_accum: int = 8  # micro-batches per step summed over all ranks (8 = the challenge's 8 // world_size)
    warmup_steps: int = 20  # compile-priming steps; weights, optimizer and loader are restored afterwards
    max_wallclock_seconds: float = 600.0
    seed: int = 1337
    val_every: int = 1000
    log_every: int = 200
    compile: bool = True  # torch.compile on CUDA; CPU always runs eager
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # multi-rank: DDP + round-robin Muon | no DDP, sharded Muon (reduce-scatter, own shard, all-gather)
    distribution: Literal["ddp", "sharded"] = "ddp"
    ema: EMAConfig | None = None  # weight averaging: at most one of ema / swa
    swa: SWAConfig | None = None
    qat: QATConfig | None = None
    checkpoint: CheckpointConfig | None = None
    progressive_context: ProgressiveContextConfig | None = None  # seq_len by progress stages (#2014)


def train_checks(t: TrainConfig) -> list[tuple[bool, str, str]]:
    """(ok, key, message) rows of the train block and its technique blocks."""
    return [
        (t.seq_len >= 1, "train.seq_len", "must be ≥ 1"),
        (t.grad_accum >= 1, "train.grad_accum", "must be ≥ 1"),
        (t.batch_tokens % (t.grad_accum * t.seq_len) == 0, "train.batch_tokens",
         f"must be a multiple of train.grad_accum × train.seq_len = {t.grad_accum * t.seq_len}"),
        (t.iterations >= 0, "train.iterations", "must be ≥ 0"),
        (t.ema is None or t.swa is None, "train.swa", "at most one of train.ema and train.swa may be set"),
        (t.ema is None or 0 < t.ema.decay < 1, "train.ema.decay", "must be in (0, 1)"),
        (t.swa is None or t.swa.every >= 1, "train.swa.every", "must be ≥ 1"),
        (t.swa is None or 0 < t.swa.threshold <= 1, "train.swa.threshold", "must be in (0, 1]"),
        (t.qat is None or t.qat.late_threshold is None or 0 < t.qat.late_threshold <= 1,
         "train.qat.late_threshold", "must be in (0, 1] or none (QAT from step 0)"),
        (t.qat is None or all(b.partition("=")[0].strip() and b.partition("=")[2].strip().lower() in _BITS
                               for b in t.qat.bits), "train.qat.bits", "entries must be 'regex=bits' or 'regex=none'"),
        (t.checkpoint is None or t.checkpoint.every >= 1, "train.checkpoint.every", "must be ≥ 1"),
        (t.checkpoint is None or t.checkpoint.keep >= 1, "train.checkpoint.keep", "must be ≥ 1"),
        *(context_checks(t.progressive_context, t.seq_len, t.batch_tokens, t.grad_accum)
          if t.progressive_context is not None else []),
    ]
