"""The model block of the config tree: the trunk's shape and core choices, composed with the technique blocks.

Each technique's block stays beside its code in `pgolf.model.features.*` (and `InitConfig` in pgolf.model.init);
this module composes them into `ModelConfig` and holds `validate_model`, the model's cross-field checks. The root
`pgolf.config` composes ModelConfig into the run's tree; nothing here imports the root.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from pgolf.errors import PgolfError
from pgolf.kernels.softcap_ce import SoftcapCEConfig
from pgolf.model.features.asym_logit import AsymLogitConfig
from pgolf.model.features.attn_gate import AttnGateConfig
from pgolf.model.features.backout import BackoutConfig, backout_layer
from pgolf.model.features.bigram_hash import BigramHashConfig
from pgolf.model.features.parallel_residual import ParallelResidualConfig, parallel_checks
from pgolf.model.features.recurrence import RecurrenceConfig, recurrence_checks, virtual_order
from pgolf.model.features.skip_gates import SkipGateConfig
from pgolf.model.features.smear_gate import SmearGateConfig
from pgolf.model.features.value_embed import ValueEmbedConfig
from pgolf.model.features.value_residual import ValueResidualConfig
from pgolf.model.features.varlen import VarlenConfig
from pgolf.model.features.xsa import XSAConfig
from pgolf.model.init import InitConfig
from pgolf.model.layersets import parse_layers


@dataclass(frozen=True)
class ModelConfig:
    """Shape and core choices of the GPT trunk (names follow the community's vocabulary).

    Technique blocks (`bigram_hash`, `smear_gate`, …) are on when present; each is documented in its module under
    `pgolf.model.features`. Layer-set strings follow `pgolf.model.layersets` ("all", "last:4", "9,10").
    """

    vocab_size: int = 1024
    num_layers: int = 9
    model_dim: int = 512
    num_heads: int = 8
    num_kv_heads: int = 4
    mlp_mult: float = 2.0
    mlp_activation: Literal["relu2", "leaky_relu2"] = "relu2"
    mlp_leaky_slope: float = 0.5  # negative slope of leaky_relu2 (#1473: 0.5)
    tie_embeddings: bool = True
    tied_embed_init_std: float = 0.005
    logit_softcap: float = 30.0
    rope_base: float = 10000.0  # explicit; `pgolf.model.layers.ntk_rope_base` gives the seeds' NTK base at a length
    rope_dims: int = 0  # partial RoPE: rotate only the first rope_dims dims of each head (0 = all)
    qk_gain_init: float = 1.5
    ln_scale: bool = False  # scale block l's normed inputs by 1/sqrt(l+1) (#601, #1473)
    unet_skips: bool = True
    attention_kernel: Literal["auto", "fa3", "sdpa"] = "auto"  # auto: FA3 when importable with CUDA, else SDPA
    bos_id: int = 1  # the document separator the BOS-aware options reset at
    init: InitConfig = field(default_factory=InitConfig)
    bigram_hash: BigramHashConfig | None = None
    smear_gate: SmearGateConfig | None = None
    value_embed: ValueEmbedConfig | None = None
    backout: BackoutConfig | None = None
    xsa: XSAConfig | None = None
    value_residual: ValueResidualConfig | None = None
    attn_gate: AttnGateConfig | None = None
    recurrence: RecurrenceConfig | None = None  # looped middle layers (#1855), pgolf.model.features.recurrence
    parallel_residual: ParallelResidualConfig | None = None  # two lanes (#1855), features.parallel_residual
    softcap_ce: SoftcapCEConfig | None = None  # chunked softcapped CE, no softcapped copy (pgolf.kernels.softcap_ce)
    asym_logit: AsymLogitConfig | None = None  # TTT-only pos/neg softcaps (#1923), features.asym_logit
    varlen: VarlenConfig | None = None  # document-isolated attention in training (#1530), features.varlen
    skip_gates: SkipGateConfig | None = None  # σ-gated U-Net skips (#1855), features.skip_gates; needs unet_skips


def validate_model(m: ModelConfig) -> ModelConfig:
    """Checks of the model block and its technique blocks (layer sets parsed here, once: `layer_sets`)."""
    for ok, key, msg in [
        (m.model_dim % m.num_heads == 0, "model.model_dim", f"must be divisible by model.num_heads={m.num_heads}"),
        (m.num_heads % m.num_kv_heads == 0, "model.num_kv_heads", f"must divide model.num_heads={m.num_heads}"),
        ((m.model_dim // m.num_heads) % 2 == 0, "model.model_dim", "head dim (model_dim/num_heads) must be even"),
        (m.num_layers >= 1, "model.num_layers", "must be ≥ 1"),
        (m.logit_softcap > 0, "model.logit_softcap", "must be > 0"),
        (m.mlp_mult > 0, "model.mlp_mult", "must be > 0"),
    ]:
        if not ok:
            raise PgolfError(f"{key}: {msg}")
    head_dim = m.model_dim // m.num_heads
    checks = [
        (m.rope_dims == 0 or (m.rope_dims % 2 == 0 and 0 < m.rope_dims <= head_dim), "model.rope_dims",
         f"must be 0 (all) or even and in (0, {head_dim}] (the head dim)"),
        (m.rope_base > 0, "model.rope_base", "must be > 0"),
        (m.bigram_hash is None or m.bigram_hash.buckets >= 2, "model.bigram_hash.buckets", "must be ≥ 2"),
        (m.bigram_hash is None or m.bigram_hash.dim >= 1, "model.bigram_hash.dim", "must be ≥ 1"),
        (m.value_embed is None or m.value_embed.dim >= 1, "model.value_embed.dim", "must be ≥ 1"),
        (m.backout is None or m.backout.layer is None or 0 <= m.backout.layer < m.num_layers, "model.backout.layer",
         f"must be in [0, {m.num_layers - 1}] (or none for num_layers // 2)"),
        (0 <= m.bos_id < m.vocab_size, "model.bos_id", f"must be in [0, {m.vocab_size - 1}]"),
        (m.attn_gate is None or m.attn_gate.kind != "sparse" or 1 <= m.attn_gate.window <= m.model_dim,
         "model.attn_gate.window", f"must be in [1, {m.model_dim}] (model_dim) with kind=sparse"),
        (m.smear_gate is None or m.smear_gate.kind != "gated" or 1 <= m.smear_gate.window <= m.model_dim,
         "model.smear_gate.window", f"must be in [1, {m.model_dim}] (model_dim) with kind=gated"),
        *(recurrence_checks(m.recurrence, m.num_layers) if m.recurrence is not None else []),
        (m.skip_gates is None or m.unet_skips, "model.skip_gates", "needs model.unet_skips=true (it gates the skips)"),
    ]
    for ok, key, msg in checks:
        if not ok:
            raise PgolfError(f"{key}: {msg}")
    if m.parallel_residual is not None:
        orders = [list(range(m.num_layers)), virtual_order(m.num_layers, m.recurrence)]
        bl = backout_layer(m.backout, m.num_layers) if m.backout is not None else None
        for ok, key, msg in parallel_checks(m.parallel_residual.start_layer, orders, m.unet_skips, bl):
            if not ok:
                raise PgolfError(f"{key}: {msg}")
    layer_sets(m)
    return m


class LayerSets(NamedTuple):
    """The per-layer techniques' layer sets of one model config, as sorted 0-based indices (() when off)."""

    xsa: tuple[int, ...]
    value_embed: tuple[int, ...]


@functools.cache
def layer_sets(m: ModelConfig) -> LayerSets:
    """Parse the model's layer-set strings (pgolf.model.layersets) once per (frozen, hashable) model config:
    `validate_model` parses them and the model's build reads the memo, so a bad spec fails at validation."""
    xsa = parse_layers(m.xsa.layers, m.num_layers, "model.xsa.layers") if m.xsa is not None else ()
    ve = m.value_embed
    return LayerSets(xsa, parse_layers(ve.layers, m.num_layers, "model.value_embed.layers") if ve is not None else ())
