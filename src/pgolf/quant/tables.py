"""The seeds' export tables (SPEC_SEEDS.md §1.7 "Mixed-precision policy"), as ordered `QuantRule` tuples.

Each function takes the QuantConfig and the number of layers (late-K carve-outs name the last blocks) and returns a
table that ends in a catch-all, so it covers every tensor. The seeds' 65,536-element passthrough gate is
`quant.keep_float_max_numel` (65,536 by default; CPU-sized tests lower it so that tiny models get quantized), and
#295/#443's 8,192 gate is min(8,192, that). The seeds classify by substrings — "tok_emb"/"lm_head" is
the embedding, ".mlp." the MLP, "bigram" the bigram branch (#295/#443 only), ".attn." or ".proj." attention — and
these globs reproduce that order. Control tensors are the seeds' CONTROL_TENSOR_NAME_PATTERNS.
Sources: openai/parameter-golf PRs #198, #295, #443, #601, #1473 (`mixed_quantize*`), the naive baseline; the
frontier's SDClip table `pr1855` (#1394 → #1586 → #1855 `gptq_mixed_quantize`, SPEC_FRONTIER §4.2/§4.3).
"""

from __future__ import annotations

from collections.abc import Callable

from pgolf.model.control import SEED_EXPORT_CONTROLS
from pgolf.quant.config import QuantConfig, QuantRule

SEED_CONTROLS = SEED_EXPORT_CONTROLS  # pgolf.model.control
# The sparse attention gate's W (H × window, blocks.{i}.attn.attn_gate_w; no seed has it): int8 per row, absmax,
# symmetric, no 1/c scale floor (its entries are small), as #1787/#1855 store it; checked before every named table.
GATE_RULES = (QuantRule("*.attn_gate_w", "int", bits=8, clip="absmax", floor=False),)
INT8_PCT = dict(action="int", bits=8, clip="percentile", clip_value=99.99984, floor=True)


def _controls(patterns, action: str, max_numel: int = 0) -> tuple[QuantRule, ...]:
    return tuple(QuantRule(f"*{p}*", action, max_numel=max_numel) for p in patterns)


def _late_k(num_layers: int, n: int = 2) -> tuple[QuantRule, ...]:
    return tuple(QuantRule(f"blocks.{i}.attn.c_k.weight", "fp16") for i in range(max(0, num_layers - n), num_layers))


def _intn(pattern: str, bits: int, min_numel: int = 0, **kw) -> QuantRule:
    return QuantRule(pattern, "int", bits=bits, clip=kw.pop("clip", "absmax"), min_numel=min_numel, **kw)


def _attn(bits: int, min_numel: int = 0, **kw) -> tuple[QuantRule, ...]:
    return (_intn("*.attn.*", bits, min_numel, **kw), _intn("*.proj.*", bits, min_numel, **kw))


def baseline(q: QuantConfig, num_layers: int) -> tuple[QuantRule, ...]:
    """≤ keep_float_max_numel: controls fp32, others fp16; everything larger int8 percentile (floor 1/127)."""
    keep = q.keep_float_max_numel
    return (*_controls(q.control_patterns, "fp32", keep), QuantRule("*", "fp16", max_numel=keep),
            QuantRule("*", **{**INT8_PCT, "clip_value": q.clip_percentile}))


def pr198(q: QuantConfig, num_layers: int) -> tuple[QuantRule, ...]:
    """≤65,536 fp16 (controls too); embeddings int8 pct; attn/MLP int6 absmax [−32, 31], floor 1/31; else int8."""
    i6 = dict(floor=True, neg_extra=True)
    return (QuantRule("*", "fp16", max_numel=q.keep_float_max_numel), *_controls(SEED_CONTROLS, "fp32"),
            QuantRule("*tok_emb*", **INT8_PCT), QuantRule("*lm_head*", **INT8_PCT),
            _intn("*.mlp.*", 6, **i6), *_attn(6, **i6), QuantRule("*", **INT8_PCT))


def _pr295_443(q, num_layers, fp16_keep, size_gate: int) -> tuple[QuantRule, ...]:
    kw = dict(floor=False, neg_extra=True)
    keep = q.keep_float_max_numel
    gate = (QuantRule("*", "fp16", max_numel=keep),) if size_gate else ()  # #295's keep_float_tensor
    # the seeds' 8,192-element fp16 gate is keep/8 at full size; scaled with keep (tiny) but never above 8,192
    return (QuantRule("*", "fp16", max_numel=min(8192, keep // 8)), *_controls(SEED_CONTROLS, "fp32"),
            *(QuantRule(p, "fp16") for p in fp16_keep),
            _intn("*.mlp.*", 5, size_gate, **kw), _intn("*bigram*", 6, size_gate, **kw), *_attn(6, size_gate, **kw),
            *gate, QuantRule("*", **INT8_PCT))


def pr295(q: QuantConfig, num_layers: int) -> tuple[QuantRule, ...]:
    """≤8,192 fp16; tok_emb and the last two c_k fp16; >65,536: MLP int5, bigram/attn int6 [−(c+1), c]."""
    keep = ("*tok_emb*", *(r.pattern for r in _late_k(num_layers)))
    return _pr295_443(q, num_layers, keep, q.keep_float_max_numel + 1)


def pr443(q: QuantConfig, num_layers: int) -> tuple[QuantRule, ...]:
    """≤8,192 fp16; tok_emb and the second-to-last block's c_k fp16; MLP int5, bigram/attn int6 with no size gate;
    else int8. #443's FP16_KEEP_NAME_PATTERNS default names `blocks.8.attn.c_k` literally — the second-to-last of
    its 10 layers; it is derived from num_layers here, so at another depth it names a block that exists."""
    return _pr295_443(q, num_layers, ("*tok_emb*", f"*blocks.{max(num_layers - 2, 0)}.attn.c_k*"), 0)


def pr601(q: QuantConfig, num_layers: int) -> tuple[QuantRule, ...]:
    """The final eval-time requant: ≤65,536 fp16; tok_emb + last two c_k fp16; MLP int5, attn int6; else int8."""
    kw = dict(floor=False, neg_extra=True)
    return (QuantRule("*", "fp16", max_numel=q.keep_float_max_numel), *_controls(SEED_CONTROLS, "fp32"),
            QuantRule("*tok_emb*", "fp16"), *_late_k(num_layers), _intn("*.mlp.*", 5, **kw), *_attn(6, **kw),
            QuantRule("*", **INT8_PCT))


def pr1473(q: QuantConfig, num_layers: int) -> tuple[QuantRule, ...]:
    """≤65,536 fp16; embeddings int8 pct; attn/MLP int6 [−31, 31], floor 1/31, per-matrix clip search (GPTQ)."""
    i6 = dict(clip="search_tensor", floor=True, neg_extra=False)
    return (QuantRule("*", "fp16", max_numel=q.keep_float_max_numel), *_controls(SEED_CONTROLS, "fp32"),
            QuantRule("*tok_emb*", **INT8_PCT), QuantRule("*lm_head*", **INT8_PCT),
            _intn("*.mlp.*", 6, **i6), *_attn(6, **i6), QuantRule("*", **INT8_PCT))


def pr1855(q: QuantConfig, num_layers: int) -> tuple[QuantRule, ...]:
    """≤65,536 fp16; SDClip s = k·std(row)/c, symmetric [−c, c], no 1/c floor (#1855 floors at 1e−10):
    tok_emb int7 k=14.0 (int7 embeddings, #1586), MLP int6 k=11.5, attention int6 k=13.0, every other matrix
    int6 k=12.85. #1855 runs GPTQ on all of them, the tied embedding too (quant.gptq.embeddings, #1394)."""
    sd = dict(clip="sdclip", floor=False, neg_extra=False)
    return (QuantRule("*", "fp16", max_numel=q.keep_float_max_numel), *_controls(SEED_CONTROLS, "fp32"),
            _intn("*tok_emb*", 7, clip_value=14.0, **sd), _intn("*.mlp.*", 6, clip_value=11.5, **sd),
            _intn("*.attn.*", 6, clip_value=13.0, **sd), _intn("*", 6, clip_value=12.85, **sd))


TABLES: dict[str, Callable[[QuantConfig, int], tuple[QuantRule, ...]]] = {
    "baseline": baseline, "pr198": pr198, "pr295": pr295, "pr443": pr443, "pr601": pr601, "pr1473": pr1473,
    "pr1855": pr1855,
}
