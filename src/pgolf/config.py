"""The typed config tree and the one `override()` shared by recipes and the CLI.

Every knob of a run lives in a small frozen dataclass; `Config` nests them. Recipes derive from their parent with
`override(parent(), {"model.num_layers": 11, ...})` and the CLI applies `key=value` words through the same function,
so a value is coerced from its annotation exactly once, in one place. Unknown keys are refused with a suggestion and
bad values name the field and the expected type — both as a one-line `PgolfError`.

Optional technique blocks (`x: SomeConfig | None = None`) are switched on by setting any of their fields
(`model.bigram_hash.buckets=2048` builds the default block first) or with the word `on`, and off with `none`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal

from pgolf.errors import PgolfError
from pgolf.model.features.asym_logit import AsymLogitConfig
from pgolf.model.features.attn_gate import AttnGateConfig
from pgolf.model.features.backout import BackoutConfig
from pgolf.model.features.bigram_hash import BigramHashConfig
from pgolf.model.features.parallel_residual import ParallelResidualConfig, parallel_checks
from pgolf.model.features.recurrence import RecurrenceConfig, recurrence_checks
from pgolf.model.features.skip_gates import SkipGateConfig
from pgolf.model.features.smear_gate import SmearGateConfig
from pgolf.model.features.value_embed import ValueEmbedConfig
from pgolf.model.features.value_residual import ValueResidualConfig
from pgolf.model.features.varlen import VarlenConfig
from pgolf.model.features.xsa import XSAConfig
from pgolf.model.init import InitConfig, OrthoInitConfig, SpectralEmbedInitConfig
from pgolf.optim.schedule import WDTaperConfig
from pgolf.train.averaging import EMAConfig, SWAConfig
from pgolf.train.checkpoint import CheckpointConfig
from pgolf.train.progressive_context import ProgressiveContextConfig, context_checks
from pgolf.train.qat import QATConfig

# ----------------------------------------------------------------------------------------------------------------
# The tree
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    """Where the challenge shards (fineweb_{train,val}_*.bin) and the SentencePiece model live."""

    path: str = "data/datasets/fineweb10B_sp1024"
    tokenizer: str = "data/tokenizers/fineweb_1024_bpe.model"
    # train order: the challenge's stream | seeded shuffled windows (train.seed) | stream + BOS cu_seqlens
    loader: Literal["sequential", "shuffled", "packed"] = "sequential"


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
    asym_logit: AsymLogitConfig | None = None  # TTT-only pos/neg softcaps (#1923), features.asym_logit
    varlen: VarlenConfig | None = None  # document-isolated attention in training (#1530), features.varlen
    skip_gates: SkipGateConfig | None = None  # σ-gated U-Net skips (#1855), features.skip_gates; needs unet_skips


@dataclass(frozen=True)
class OptimConfig:
    """Muon on block matrices, Adam on embeddings and control tensors; `routing` names the seed's table."""

    matrix_lr: float = 0.04
    scalar_lr: float = 0.04
    tied_embed_lr: float = 0.05
    embed_lr: float = 0.6
    head_lr: float = 0.008
    muon_momentum: float = 0.95
    muon_momentum_warmup_start: float = 0.85
    muon_momentum_warmup_steps: int = 500
    muon_ns_steps: int = 5
    muon_wd: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.95)
    adam_eps: float = 1e-8
    adam_wd: float = 0.0
    grad_clip_norm: float = 0.0  # global L2 norm, after gradient reduction; 0 = off
    # parameter → optimizer table (pgolf.optim.routing.TABLES): the baseline's or a seed's split
    routing: Literal["baseline", "pr198", "pr295", "pr443", "pr601", "pr1473"] = "baseline"
    muon_ns: Literal["ns5", "polar_express"] = "ns5"  # Newton–Schulz coefficients (fixed NS5 | per-step PE)
    muon_row_norm: Literal["none", "after_ns", "before_ns"] = "none"  # #601 | MuonEq-R
    muon_nesterov: bool = True
    embed_wd: float | None = None  # weight decay of the token-embedding group; None = adam_wd


@dataclass(frozen=True)
class ScheduleConfig:
    """LR warmdown. `auto` is wallclock-based when train.max_wallclock_seconds > 0, else iteration-based;
    `fraction` decays over the last warmdown_frac of progress max(step/iterations, elapsed/cap)."""

    warmdown_iters: int = 1200
    warmdown_mode: Literal["auto", "wallclock", "iterations", "fraction"] = "auto"
    warmdown_frac: float = 0.0  # used by warmdown_mode=fraction
    min_lr: float = 0.0  # floor of the LR scale (#1787's MIN_LR); 0 = the seeds
    wd_taper: WDTaperConfig | None = None


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


@dataclass(frozen=True)
class QuantRule:
    """One row of the export policy table (pgolf.quant.policy): the first rule whose glob `pattern` matches the full
    tensor name and whose element count lies in [min_numel, max_numel] (0 = unbounded) decides the tensor's fate."""

    pattern: str = "*"  # fnmatch glob on the full state-dict name, e.g. "blocks.*.mlp.*.weight"
    action: Literal["int", "fp16", "fp32", "bf16", "keep"] = "int"  # int = per-row intN; keep = original dtype
    bits: int = 8  # 2..8 for action=int: levels ±c with c = 2^(bits-1) − 1
    clip: Literal["absmax", "percentile", "search_row", "search_tensor", "sdclip"] = "percentile"
    clip_value: float = 99.99984  # percentile in % (clip=percentile) or k (clip=sdclip, scale = k·std/c)
    candidates: tuple[float, ...] = ()  # percentiles tried by clip=search_* (empty = 99.9, 99.95, 99.99, 99.999, 100)
    floor: bool = True  # scale ≥ 1/c (the seeds' floor, SPEC_SEEDS §6.13); false = scale ≥ the smallest fp16 normal
    neg_extra: bool = False  # q ∈ [−(c+1), c] as #198/#295/#443/#601 clamp; false = symmetric [−c, c]
    min_numel: int = 0
    max_numel: int = 0


@dataclass(frozen=True)
class MagnitudePruneConfig:
    """Zero the `frac`-quantile smallest |w| of every float matrix with more than `min_numel` elements (#295, #443)."""

    frac: float = 0.03
    min_numel: int = 65_536


@dataclass(frozen=True)
class SelectivePruneConfig:
    """Zero the cheapest ±1 quantized values (cost s_row²) until code + model fit `target_bytes` (#1473)."""

    target_bytes: int = 0  # decimal bytes; 0 = artifact.max_bytes
    bits: tuple[int, ...] = (6,)  # only tensors quantized at these widths are candidates (#1473: int6)


@dataclass(frozen=True)
class LQERConfig:
    """Low-rank correction of the quantization error on the top_k matrices by ‖W − Ŵ‖_F (pgolf.quant.lqer; #1797,
    asymmetric INT2 A / INT4 grouped B factors of #1855; #2135 uses b_group 32)."""

    rank: int = 4
    top_k: int = 3
    a_bits: int = 2  # A = U_r S_r (out × r): one fp16 scale per tensor, levels −2^(a−1) .. 2^(a−1)−1
    b_bits: int = 4  # B = V_rᵀ (r × in): one fp16 scale per b_group inputs of a row
    b_group: int = 64


@dataclass(frozen=True)
class AWQConfig:
    """AWQ-lite mixed precision inside GPTQ (pgolf.quant.awq; #1908/#1923): the `top_k` most salient aligned groups
    of `group` input columns (saliency act_rms·mean|w|) are quantized at `bits` in the same GPTQ solve. scope
    "matrix": top_k groups in every GPTQ'd matrix narrower than `bits`; "model": the top_k over all of them (#1908's
    code, top_k 1)."""

    group: int = 64
    bits: int = 8
    top_k: int = 1
    scope: Literal["matrix", "model"] = "matrix"


@dataclass(frozen=True)
class GPTQConfig:
    """Full GPTQ (#1473; Frantar et al. 2022) on every int-quantized CastedLinear weight, Hessians from hooks."""

    block_size: int = 128
    damp: float = 0.01  # × mean(diag H), added once
    act_order: bool = True
    calibration: Literal["train", "generated"] = "train"
    batches: int = 16  # calibration sequences batches (train: loader batches of batch_tokens; generated: of gen_batch)
    batch_tokens: int = 0  # train calibration tokens per batch (0 = train.batch_tokens)
    reserve_seconds: float = 0.0  # train calibration: stop training this much before the wallclock cap
    gen_seq_len: int = 0  # generated calibration: tokens per sequence (0 = train.seq_len)
    gen_batch: int = 8
    temperature: float = 0.8
    seed: int = 0  # 0 = train.seed
    embeddings: bool = False  # also GPTQ the tied embedding, Hessian from the LM head's inputs (#1394)


@dataclass(frozen=True)
class QuantConfig:
    """Post-training quantization: the policy table (a named seed table, with `rules` checked first), pruning, GPTQ.

    `clip_percentile`, `keep_float_max_numel` and `control_patterns` parameterise the baseline table; the control
    patterns also pick the fp32 parameters of the training precision policy.
    """

    policy: Literal["baseline", "pr198", "pr295", "pr443", "pr601", "pr1473", "pr1855"] = "baseline"
    rules: tuple[QuantRule, ...] = ()
    clip_percentile: float = 99.99984
    keep_float_max_numel: int = 65_536
    control_patterns: tuple[str, ...] = (
        "attn_scale", "attn_scales", "mlp_scale", "mlp_scales", "resid_mix", "resid_mixes",
        "q_gain", "skip_weight", "skip_weights", "skip_gates", "attn_gate_w",
    )
    prune: MagnitudePruneConfig | None = None
    gptq: GPTQConfig | None = None
    selective_prune: SelectivePruneConfig | None = None
    lqer: LQERConfig | None = None
    awq: AWQConfig | None = None  # needs quant.gptq (saliency from the calibration Hessians)


@dataclass(frozen=True)
class LoRATTTConfig:
    """Per-document LoRA adapters for test-time training (pgolf.eval.lora): rank r, output scale alpha/r, the
    CastedLinear layers they wrap (name suffixes), documents scored side by side, and the seed of the A init."""

    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = ("attn.c_q", "attn.c_v", "attn.proj", "mlp.proj")
    batch_docs: int = 32
    seed: int = 0


@dataclass(frozen=True)
class TTTConfig:
    """Score-first test-time training (pgolf.eval.ttt; SPEC_FRONTIER.md §5). Without `lora`: the whole stream is
    scored in chunks of ~chunk_tokens targets and the model (`params`) is trained on each chunk after it was scored.
    With `lora`: per-document adapters, reset per document, trained on each chunk of chunk_tokens targets of the
    document after it was scored. epochs = optimizer passes per chunk (0 = plain scoring)."""

    chunk_tokens: int = 32_768
    epochs: int = 3
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.005
    momentum: float = 0.9  # SGD momentum, or Adam beta1
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # 0 = off; the LoRA variant clips per document
    lr_schedule: Literal["constant", "cosine"] = "cosine"  # full-model variant: cosine over the chunks
    params: Literal["all", "matrices", "control"] = "all"  # full-model variant: which parameters adapt
    train_seq_len: int = 0  # full-model variant: training sequence length (0 = the eval sequence length)
    batch_seqs: int = 32  # full-model variant: sequences per optimizer step (over all ranks)
    lora: LoRATTTConfig | None = None


@dataclass(frozen=True)
class EvalConfig:
    """Validation: sequence length (0 = train.seq_len), stride (0 = non-overlapping), batch and an optional prefix.
    doc_aware keeps every window inside one document (BOS-delimited); ttt adds score-first test-time training to
    the final (round-trip) evaluation; compile = torch.compile of the scoring path on CUDA (CPU runs eager)."""

    seq_len: int = 0
    stride: int = 0
    batch_tokens: int = 524_288
    max_tokens: int = 0  # 0 = the whole val split; > 0 scores only a prefix (smoke runs; flagged in summary.json)
    doc_aware: bool = False
    compile: bool = True
    ttt: TTTConfig | None = None


@dataclass(frozen=True)
class ArtifactConfig:
    """The artifact: storage of quantized values, compression codec, and the decimal cap on code + model bytes."""

    codec: Literal["zlib", "zstd", "lzma", "brotli", "auto"] = "zlib"
    level: int | None = None  # None = the codec's default (zlib 9, zstd 22, lzma 9, brotli 11)
    # int8 containers | bit-packed | rANS entropy-coded | column-major zigzag bytes (pgolf.artifact.storage)
    storage: Literal["int8", "packed", "rans", "zigzag_t"] = "int8"
    max_bytes: int = 16_000_000
    # how the bundled train_gpt.py wraps its compressed sources (pgolf.artifact.bundle): base85 text, the accepted
    # convention since #1530, or raw bytes in a latin-1 string literal (about 14% smaller code, a binary-looking file)
    code_wrap: Literal["b85", "latin1"] = "b85"


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    artifact: ArtifactConfig = field(default_factory=ArtifactConfig)


# ----------------------------------------------------------------------------------------------------------------
# Types and coercion
# ----------------------------------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"none", "null"}


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional_inner(tp) -> Any | None:
    """X for `X | None` / Optional[X], else None."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _type_name(tp) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return f"{_type_name(inner)} or none"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"comma-separated list of {_type_name(args[0])}"
        return "comma-separated " + ", ".join(_type_name(a) for a in args)
    if is_dataclass(tp):
        return f"a {tp.__name__} block ('on' or 'none')"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert `value` (a Python value or a CLI string) to the annotated type `tp`, or raise a PgolfError."""

    def bad() -> PgolfError:
        return PgolfError(f"{key}: expected {_type_name(tp)}, got {value!r}")

    inner = _optional_inner(tp)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        return coerce(value, inner, key)
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        raise bad()
    if origin is tuple:
        args = typing.get_args(tp)
        items = value
        if isinstance(value, str):
            items = [s.strip() for s in value.split(",") if s.strip()] if value.strip() else []
        if not isinstance(items, (list, tuple)):
            raise bad()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], key) for v in items)
        if len(items) != len(args):
            raise bad()
        return tuple(coerce(v, a, key) for v, a in zip(items, args))
    if is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return from_dict(tp, value, prefix=key)
        if isinstance(value, str) and value.strip().lower() in ("on", "default"):
            return tp()
        raise bad()
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad()
    if tp is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            s = value.strip().replace("_", "")
            try:
                return int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    raise bad() from None
                if f.is_integer():
                    return int(f)
        raise bad()
    if tp is float:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip().replace("_", ""))
            except ValueError:
                raise bad() from None
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad()
    raise PgolfError(f"{key}: unsupported config type {tp!r}")


# ----------------------------------------------------------------------------------------------------------------
# Keys, override, dict round trip
# ----------------------------------------------------------------------------------------------------------------


def all_keys(cls=Config, prefix: str = "") -> list[str]:
    """Every dotted key of the tree, optional blocks expanded (for suggestions and --help)."""
    out: list[str] = []
    for name, tp in _hints(cls).items():
        key = f"{prefix}{name}"
        inner = _optional_inner(tp)
        sub = inner if inner is not None and is_dataclass(inner) else tp if is_dataclass(tp) else None
        out.append(key)
        if sub is not None:
            out.extend(all_keys(sub, key + "."))
    return out


def _unknown(key: str) -> PgolfError:
    close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.6)
    hint = f" — did you mean {close[0]}?" if close else " — see `pgolf recipes show NAME` for the keys"
    return PgolfError(f"{key}: unknown key{hint}")


def _set(obj, parts: list[str], value: Any, key: str):
    hints = _hints(type(obj))
    name = parts[0]
    if name not in hints:
        raise _unknown(key)
    tp = hints[name]
    if len(parts) == 1:
        return replace(obj, **{name: coerce(value, tp, key)})
    inner = _optional_inner(tp)
    sub_tp = inner if inner is not None else tp
    if not is_dataclass(sub_tp):
        raise _unknown(key)
    current = getattr(obj, name)
    if current is None:
        current = sub_tp()
    return replace(obj, **{name: _set(current, parts[1:], value, key)})


def override(cfg, changes: Mapping[str, Any]):
    """Return a copy of `cfg` with dotted keys set; values are coerced from the annotations."""
    for key, value in changes.items():
        cfg = _set(cfg, key.split("."), value, key)
    return cfg


def parse_overrides(words: list[str]) -> dict[str, str]:
    """CLI words `a.b=value` → {"a.b": "value"}."""
    out: dict[str, str] = {}
    for w in words:
        if "=" not in w:
            raise PgolfError(f"{w}: expected key=value (e.g. train.iterations=200)")
        k, v = w.split("=", 1)
        out[k.strip()] = v
    return out


def to_dict(cfg) -> dict[str, Any]:
    def conv(x):
        if is_dataclass(x):
            return {f.name: conv(getattr(x, f.name)) for f in fields(x)}
        if isinstance(x, tuple):
            return [conv(v) for v in x]
        return x

    return conv(cfg)


def from_dict(cls, d: Mapping[str, Any], prefix: str = ""):
    """Build a config of type `cls` from a (possibly partial) nested dict; unknown keys are refused."""
    hints = _hints(cls)
    kwargs = {}
    for name, value in d.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in hints:
            raise _unknown(key)
        kwargs[name] = coerce(value, hints[name], key)
    return cls(**kwargs)


def config_hash(cfg) -> str:
    blob = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _quant_checks(q: QuantConfig) -> list[tuple[bool, str, str]]:
    out = [(2 <= r.bits <= 8, f"quant.rules[{i}].bits", "must be in 2..8") for i, r in enumerate(q.rules)]
    if q.prune is not None:
        out.append((0 <= q.prune.frac < 1, "quant.prune.frac", "must be in [0, 1)"))
    if q.gptq is not None:
        g = q.gptq
        out += [(g.block_size >= 1, "quant.gptq.block_size", "must be ≥ 1"),
                (g.damp > 0, "quant.gptq.damp", "must be > 0"), (g.batches >= 1, "quant.gptq.batches", "must be ≥ 1"),
                (g.temperature > 0, "quant.gptq.temperature", "must be > 0"),
                (g.reserve_seconds >= 0, "quant.gptq.reserve_seconds", "must be ≥ 0")]
    if q.lqer is not None:
        x = q.lqer
        out += [(x.rank >= 1, "quant.lqer.rank", "must be ≥ 1"), (x.top_k >= 1, "quant.lqer.top_k", "must be ≥ 1"),
                (2 <= x.a_bits <= 8, "quant.lqer.a_bits", "must be in 2..8"),
                (2 <= x.b_bits <= 8, "quant.lqer.b_bits", "must be in 2..8"),
                (x.b_group >= 1, "quant.lqer.b_group", "must be ≥ 1")]
    if q.awq is not None:
        a = q.awq
        out += [(q.gptq is not None, "quant.awq", "needs quant.gptq (the group is chosen and solved inside GPTQ)"),
                (a.group >= 1, "quant.awq.group", "must be ≥ 1"), (a.top_k >= 1, "quant.awq.top_k", "must be ≥ 1"),
                (2 <= a.bits <= 8, "quant.awq.bits", "must be in 2..8")]
    return out


_BITS = {"none", *map(str, range(1, 17))}


def validate(cfg: Config) -> Config:
    """Cross-field checks that single annotations cannot express."""
    m, t, e = cfg.model, cfg.train, cfg.eval
    checks = [
        (m.model_dim % m.num_heads == 0, "model.model_dim", f"must be divisible by model.num_heads={m.num_heads}"),
        (m.num_heads % m.num_kv_heads == 0, "model.num_kv_heads", f"must divide model.num_heads={m.num_heads}"),
        ((m.model_dim // m.num_heads) % 2 == 0, "model.model_dim", "head dim (model_dim/num_heads) must be even"),
        (m.num_layers >= 1, "model.num_layers", "must be ≥ 1"),
        (m.logit_softcap > 0, "model.logit_softcap", "must be > 0"),
        (m.mlp_mult > 0, "model.mlp_mult", "must be > 0"),
        (t.seq_len >= 1, "train.seq_len", "must be ≥ 1"),
        (t.grad_accum >= 1, "train.grad_accum", "must be ≥ 1"),
        (t.batch_tokens % (t.grad_accum * t.seq_len) == 0, "train.batch_tokens",
         f"must be a multiple of train.grad_accum × train.seq_len = {t.grad_accum * t.seq_len}"),
        (t.iterations >= 0, "train.iterations", "must be ≥ 0"),
        (e.seq_len >= 0 and e.stride >= 0, "eval.stride", "eval.seq_len and eval.stride must be ≥ 0"),
        (cfg.artifact.max_bytes > 0, "artifact.max_bytes", "must be > 0"),
        (0 < cfg.quant.clip_percentile <= 100, "quant.clip_percentile", "must be in (0, 100]"),
        (t.ema is None or t.swa is None, "train.swa", "at most one of train.ema and train.swa may be set"),
        (m.varlen is None or cfg.data.loader == "packed", "model.varlen",
         "needs data.loader=packed (its cu_seqlens drive the document-isolated attention)"),
        (t.ema is None or 0 < t.ema.decay < 1, "train.ema.decay", "must be in (0, 1)"),
        (t.swa is None or t.swa.every >= 1, "train.swa.every", "must be ≥ 1"),
        (t.swa is None or 0 < t.swa.threshold <= 1, "train.swa.threshold", "must be in (0, 1]"),
        (t.qat is None or t.qat.late_threshold is None or 0 < t.qat.late_threshold <= 1,
         "train.qat.late_threshold", "must be in (0, 1] or none (QAT from step 0)"),
        (t.qat is None or all(b.partition("=")[0].strip() and b.partition("=")[2].strip().lower() in _BITS
                               for b in t.qat.bits), "train.qat.bits", "entries must be 'regex=bits' or 'regex=none'"),
        (t.checkpoint is None or t.checkpoint.every >= 1, "train.checkpoint.every", "must be ≥ 1"),
        (t.checkpoint is None or t.checkpoint.keep >= 1, "train.checkpoint.keep", "must be ≥ 1"),
        (cfg.optim.muon_ns != "polar_express" or 1 <= cfg.optim.muon_ns_steps <= 5, "optim.muon_ns_steps",
         "polar_express has 5 per-step tuples: must be in 1..5"),
        (cfg.schedule.warmdown_mode != "fraction" or 0 < cfg.schedule.warmdown_frac <= 1,
         "schedule.warmdown_frac", "must be in (0, 1] with warmdown_mode=fraction"),
        (0 <= cfg.schedule.min_lr <= 1, "schedule.min_lr", "must be in [0, 1]"),
        *_quant_checks(cfg.quant),
        (cfg.quant.gptq is None or not cfg.quant.gptq.embeddings or m.tie_embeddings, "quant.gptq.embeddings",
         "needs tied embeddings (model.tie_embeddings=true): the LM head's inputs give the embedding's Hessian"),
    ]
    if t.progressive_context is not None:
        checks += context_checks(t.progressive_context, t.seq_len, t.batch_tokens, t.grad_accum)
    for ok, key, msg in checks:
        if not ok:
            raise PgolfError(f"{key}: {msg}")
    validate_model(m)
    T = e.seq_len or t.seq_len
    if e.stride and e.stride > T:
        raise PgolfError(f"eval.stride: must be ≤ the eval sequence length {T}")
    validate_eval(e, T)
    return cfg


def validate_eval(e: EvalConfig, T: int) -> EvalConfig:
    """Checks of the eval block at eval sequence length T (also used by `pgolf eval`)."""
    if e.batch_tokens < 1:
        raise PgolfError("eval.batch_tokens: must be ≥ 1")
    tt = e.ttt
    if tt is None:
        return e
    checks = [
        (tt.chunk_tokens >= 1, "eval.ttt.chunk_tokens", "must be ≥ 1"),
        (tt.epochs >= 0, "eval.ttt.epochs", "must be ≥ 0"),
        (tt.lr >= 0 and tt.weight_decay >= 0 and tt.grad_clip >= 0, "eval.ttt.lr",
         "lr, weight_decay and grad_clip must be ≥ 0"),
        (0 <= tt.momentum < 1, "eval.ttt.momentum", "must be in [0, 1)"),
        (tt.train_seq_len >= 0 and tt.batch_seqs >= 1, "eval.ttt.batch_seqs",
         "batch_seqs must be ≥ 1 and train_seq_len ≥ 0"),
    ]
    if tt.lora is not None:
        lo = tt.lora
        checks += [
            (tt.chunk_tokens <= T, "eval.ttt.chunk_tokens", f"must be ≤ the eval sequence length {T} with lora"),
            (lo.rank >= 1 and lo.batch_docs >= 1, "eval.ttt.lora.rank", "rank and batch_docs must be ≥ 1"),
            (len(lo.targets) > 0, "eval.ttt.lora.targets", "expected at least one layer name suffix"),
        ]
    for ok, key, msg in checks:
        if not ok:
            raise PgolfError(f"{key}: {msg}")
    return e


def validate_model(m: ModelConfig) -> ModelConfig:
    """Checks of the model block and its technique blocks (layer sets parsed once here, and again at build)."""
    from pgolf.model.layersets import parse_layers

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
        from pgolf.model.features.backout import backout_layer
        from pgolf.model.features.recurrence import virtual_order

        orders = [list(range(m.num_layers)), virtual_order(m.num_layers, m.recurrence)]
        bl = backout_layer(m.backout, m.num_layers) if m.backout is not None else None
        for ok, key, msg in parallel_checks(m.parallel_residual.start_layer, orders, m.unet_skips, bl):
            if not ok:
                raise PgolfError(f"{key}: {msg}")
    if m.xsa is not None:
        parse_layers(m.xsa.layers, m.num_layers, "model.xsa.layers")
    if m.value_embed is not None:
        parse_layers(m.value_embed.layers, m.num_layers, "model.value_embed.layers")
    return m


__all__ = [
    "ArtifactConfig", "AsymLogitConfig", "AttnGateConfig", "BackoutConfig", "BigramHashConfig", "Config", "DataConfig", "EvalConfig",
    "GPTQConfig", "InitConfig", "LoRATTTConfig", "MagnitudePruneConfig", "ModelConfig", "OptimConfig",
    "OrthoInitConfig", "ParallelResidualConfig", "QuantConfig", "QuantRule", "RecurrenceConfig", "ScheduleConfig", "SelectivePruneConfig", "SkipGateConfig",
    "SmearGateConfig",
    "SpectralEmbedInitConfig", "TTTConfig", "TrainConfig", "ValueEmbedConfig", "ValueResidualConfig", "VarlenConfig", "XSAConfig",
    "all_keys", "coerce", "config_hash", "from_dict", "override", "parse_overrides", "to_dict", "validate",
    "validate_eval", "validate_model",
]
