"""The quant block of the config tree: the export policy table and the post-training techniques' blocks
(magnitude / selective pruning, GPTQ, AWQ-lite, LQER), owned by pgolf.quant and composed by the root `pgolf.config`.
Nothing here imports the root; the post-training pipeline (pgolf.quant.pipeline) takes this block plus explicit
arguments (the model's depth, the artifact's byte cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pgolf.model.control import CONTROL_PATTERNS


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
    control_patterns: tuple[str, ...] = CONTROL_PATTERNS  # pgolf.model.control: the one list of control names
    prune: MagnitudePruneConfig | None = None
    gptq: GPTQConfig | None = None
    selective_prune: SelectivePruneConfig | None = None
    lqer: LQERConfig | None = None
    awq: AWQConfig | None = None  # needs quant.gptq (saliency from the calibration Hessians)


def quant_checks(q: QuantConfig) -> list[tuple[bool, str, str]]:
    """(ok, key, message) rows of the quant block and its technique blocks."""
    out = [(0 < q.clip_percentile <= 100, "quant.clip_percentile", "must be in (0, 100]")]
    out += [(2 <= r.bits <= 8, f"quant.rules[{i}].bits", "must be in 2..8") for i, r in enumerate(q.rules)]
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
