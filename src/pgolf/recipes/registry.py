"""The recipe registry and the `tiny` transform."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pgolf.config import Config, override
from pgolf.errors import PgolfError
from pgolf.model.features.recurrence import rescale_loop
from pgolf.model.layersets import rescale_index, rescale_layers
from pgolf.recipes.run_length import scaled_schedules
from pgolf.train.progressive_context import parse_stages


@dataclass(frozen=True)
class Recipe:
    name: str
    build: Callable[[], Config]
    summary: str
    source: str = ""  # e.g. "openai/parameter-golf PR #198"
    author: str = ""
    reported: dict = field(default_factory=dict)  # published figures: val_bpb, bytes, steps, seeds …
    parent: str | None = None


REGISTRY: dict[str, Recipe] = {}


def recipe(name: str, summary: str, source: str = "", author: str = "", reported: dict | None = None,
           parent: str | None = None):
    """Decorator: register a function returning a Config."""

    def deco(fn: Callable[[], Config]) -> Callable[[], Config]:
        if name in REGISTRY:
            raise ValueError(f"recipe {name!r} registered twice")
        REGISTRY[name] = Recipe(name, fn, summary, source, author, dict(reported or {}), parent)
        return fn

    return deco


def get_recipe(name: str) -> Recipe:
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1)
        hint = f" — did you mean {close[0]}?" if close else f" — known: {', '.join(sorted(REGISTRY))}"
        raise PgolfError(f"recipe {name!r}: unknown{hint}")
    return REGISTRY[name]


def tiny(cfg: Config, iterations: int = 20, full_steps: int | None = None) -> Config:
    """Shrink a recipe to CPU size, keeping every technique block: 4 layers × d 128, 4/2 heads, seq 256, `iterations`
    steps. Step-bound schedules (warmdown, Muon momentum warmup, EMA horizon, SWA cadence, checkpoint cadence) keep
    their share of the run: scaled by iterations / `full_steps` (the recipe's reported steps; default its
    `train.iterations`) in pgolf.recipes.run_length.

    Shapes that depend on depth or width are scaled, not dropped; the budget becomes iteration-based. Width-bound
    technique sizes shrink by the width factor f = 128/model_dim (BigramHash and value-embedding dims, partial-RoPE
    dims by the head-dim factor, OrthoInit thresholds by f and f² so the same matrices qualify); layer sets are
    mapped by `pgolf.model.layersets.rescale_layers` ("last:K" counts clamp to 4, "9,10" of 11 → "2,3" of 4).
    The export's size gates (passthrough ≤ N elements, pruning > N) scale by f² as the OrthoInit thresholds do.
    """
    m = cfg.model
    heads, d, L = 4, 128, 4
    kv = max(1, heads * m.num_kv_heads // m.num_heads)
    f = d / m.model_dim
    head_f = (d // heads) / (m.model_dim // m.num_heads)
    changes = {
        "model.num_layers": L, "model.model_dim": d, "model.num_heads": heads, "model.num_kv_heads": kv,
        "train.seq_len": 256, "train.batch_tokens": 8 * 256, "train.grad_accum": 1, "train.iterations": iterations,
        "train.warmup_steps": 0, "train.max_wallclock_seconds": 0.0, "train.val_every": 0, "train.log_every": 5,
        "train.compile": False, **scaled_schedules(cfg, iterations, full_steps),
        "eval.seq_len": 0, "eval.batch_tokens": 16 * 256, "eval.max_tokens": 16_384,
    }
    if m.rope_dims:
        changes["model.rope_dims"] = max(2, 2 * round(m.rope_dims * head_f / 2))
    if m.bigram_hash is not None:
        changes["model.bigram_hash.dim"] = max(1, round(m.bigram_hash.dim * f))
    if m.value_embed is not None:
        changes["model.value_embed.dim"] = max(1, round(m.value_embed.dim * f))
        changes["model.value_embed.layers"] = rescale_layers(m.value_embed.layers, m.num_layers, L)
    if m.xsa is not None:
        changes["model.xsa.layers"] = rescale_layers(m.xsa.layers, m.num_layers, L)
    if m.backout is not None and m.backout.layer is not None:
        changes["model.backout.layer"] = rescale_index(m.backout.layer, m.num_layers, L)
    if m.recurrence is not None:  # the looped range stays in the middle (3..5 of 11 → 1..2 of 4)
        s, e = rescale_loop(m.recurrence, m.num_layers, L)
        changes["model.recurrence.loop_start"], changes["model.recurrence.loop_end"] = s, e
    if m.parallel_residual is not None:  # near the top, in the decoder, after the looped range (8 of 11 → 3 of 4)
        start = max(rescale_index(m.parallel_residual.start_layer, m.num_layers, L), L // 2)
        if m.recurrence is not None:
            start = max(start, changes["model.recurrence.loop_end"] + 1)
        changes["model.parallel_residual.start_layer"] = min(start, L - 1)
    if cfg.train.progressive_context is not None:  # stage lengths scale with seq_len, to powers of two ≤ 256
        fs = 256 / cfg.train.seq_len
        plan = parse_stages(cfg.train.progressive_context.stages)
        changes["train.progressive_context.stages"] = tuple(
            f"{2 ** max(5, int(math.log2(max(1.0, s * fs))))}@{p:g}" for p, s in plan)
    if m.init.ortho is not None:
        changes["model.init.ortho.min_dim"] = max(1, round(m.init.ortho.min_dim * f))
        changes["model.init.ortho.min_numel"] = round((m.init.ortho.min_numel - 1) * f * f) + 1
    q = cfg.quant  # size gates scale by f² so the same matrices are quantized; GPTQ calibrates on a few sequences
    changes["quant.keep_float_max_numel"] = max(1, round(q.keep_float_max_numel * f * f))
    if q.prune is not None:
        changes["quant.prune.min_numel"] = max(1, round(q.prune.min_numel * f * f))
    if q.gptq is not None:
        changes.update({"quant.gptq.gen_seq_len": 0, "quant.gptq.batches": min(q.gptq.batches, 2),
                        "quant.gptq.gen_batch": min(q.gptq.gen_batch, 2), "quant.gptq.batch_tokens": 0})
    return override(cfg, changes)
