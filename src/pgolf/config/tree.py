"""The run's config tree: one frozen `Config` composing the blocks each package owns.

data → pgolf.data.config, model → pgolf.model.config (with the technique blocks beside their code), optim and
schedule → pgolf.optim.config, train → pgolf.train.config, quant → pgolf.quant.config, eval → pgolf.eval.config,
artifact → pgolf.artifact.config. This package is the only place that sees the whole tree; nothing it composes
imports it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pgolf.artifact.config import ArtifactConfig
from pgolf.data.config import DataConfig
from pgolf.eval.config import EvalConfig
from pgolf.model.config import ModelConfig
from pgolf.optim.config import OptimConfig, ScheduleConfig
from pgolf.quant.config import QuantConfig
from pgolf.train.config import TrainConfig


@dataclass(frozen=True)
class Config:
    """A whole run: every block, each owned by its package (see the module docstring)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    artifact: ArtifactConfig = field(default_factory=ArtifactConfig)
