"""The typed config tree and the one `override()` shared by recipes and the CLI.

Every knob of a run lives in a small frozen dataclass owned by its package (model/config.py, quant/config.py, …);
`Config` (config/tree.py) nests them. Recipes derive from their parent with `override(parent(), {"model.num_layers":
11, ...})` and the CLI applies `key=value` words through the same function, so a value is coerced from its
annotation exactly once, in one place (pgolf.coerce). Unknown keys are refused with a suggestion and bad values
name the field and the expected type — both as a one-line `PgolfError`. `validate` (config/validate.py) runs the
cross-field checks.

Optional technique blocks (`x: SomeConfig | None = None`) are switched on by setting any of their fields
(`model.bigram_hash.buckets=2048` builds the default block first) or with the word `on`, and off with `none`.

Layering: this package composes the packages' blocks and sits above them — nothing in model/, optim/, data/,
quant/, eval/ or artifact/ imports it; train/, recipes/ and commands/ (which run a whole config) do. The block
classes are re-exported here so `from pgolf.config import QuantConfig` keeps working for callers above.
"""

from pgolf.artifact.config import ArtifactConfig, PerGroupConfig
from pgolf.coerce import coerce, from_dict, to_dict
from pgolf.config.override import all_keys, config_hash, override, parse_overrides
from pgolf.config.tree import Config
from pgolf.config.validate import validate
from pgolf.data.config import DataConfig
from pgolf.eval.config import (
    EvalConfig,
    LoRATTTConfig,
    NgramTiltConfig,
    PhasedTTTConfig,
    TTTConfig,
    validate_eval,
)
from pgolf.model.config import ModelConfig, validate_model
from pgolf.model.features.asym_logit import AsymLogitConfig
from pgolf.model.features.attn_gate import AttnGateConfig
from pgolf.model.features.backout import BackoutConfig
from pgolf.model.features.bigram_hash import BigramHashConfig
from pgolf.model.features.parallel_residual import ParallelResidualConfig
from pgolf.model.features.recurrence import RecurrenceConfig
from pgolf.model.features.skip_gates import SkipGateConfig
from pgolf.model.features.smear_gate import SmearGateConfig
from pgolf.model.features.value_embed import ValueEmbedConfig
from pgolf.model.features.value_residual import ValueResidualConfig
from pgolf.model.features.varlen import VarlenConfig
from pgolf.model.features.xsa import XSAConfig
from pgolf.model.init import InitConfig, OrthoInitConfig, SpectralEmbedInitConfig
from pgolf.optim.config import OptimConfig, ScheduleConfig
from pgolf.quant.config import (
    AWQConfig,
    GPTQConfig,
    LQERConfig,
    MagnitudePruneConfig,
    QuantConfig,
    QuantRule,
    SelectivePruneConfig,
)
from pgolf.train.config import ProgressiveContextConfig, TrainConfig

__all__ = [
    "AWQConfig", "ArtifactConfig", "AsymLogitConfig", "AttnGateConfig", "BackoutConfig", "BigramHashConfig", "Config", "DataConfig",
    "EvalConfig", "GPTQConfig", "InitConfig", "LQERConfig", "LoRATTTConfig", "MagnitudePruneConfig", "ModelConfig",
    "NgramTiltConfig", "OptimConfig", "OrthoInitConfig", "PerGroupConfig", "PhasedTTTConfig", "ParallelResidualConfig",
    "ProgressiveContextConfig", "QuantConfig", "QuantRule", "RecurrenceConfig",
    "ScheduleConfig", "SelectivePruneConfig", "SkipGateConfig", "SmearGateConfig", "SpectralEmbedInitConfig", "TTTConfig",
    "TrainConfig", "ValueEmbedConfig", "ValueResidualConfig", "VarlenConfig", "XSAConfig",
    "all_keys", "coerce", "config_hash", "from_dict", "override", "parse_overrides", "to_dict", "validate",
    "validate_eval", "validate_model",
]
