"""Each seed recipe's export as run (SPEC_SEEDS.md §1.7, transcribed here independently), the tiny transform keeping
the same tensors quantized, and QAT reading its bit widths from the exporter's own table (one source of truth)."""

from __future__ import annotations

import pytest
import torch

from pgolf.config import override
from pgolf.model.gpt import GPT
from pgolf.quant.pipeline import quantize_model_state
from pgolf.quant.policy import policy_for
from pgolf.recipes import get_recipe, tiny
from pgolf.train.qat import QATConfig, build_qat

# recipe: (table, magnitude-prune fraction, codec, GPTQ, selective ±1 pruning)
EXPORT = {"baseline": ("baseline", None, "zlib", False, False), "pr198": ("pr198", None, "zstd", False, False),
          "pr295": ("pr295", 0.08, "zstd", False, False), "pr443": ("pr443", 0.03, "zstd", False, False),
          "pr601": ("pr601", None, "zstd", False, False), "pr1473": ("pr1473", None, "lzma", True, True)}


@pytest.mark.parametrize("name", sorted(EXPORT))
def test_recipe_export_as_run(name):
    c = get_recipe(name).build()
    q = c.quant
    policy, frac, codec, gptq, sel = EXPORT[name]
    assert (q.policy, q.prune.frac if q.prune else None, c.artifact.codec) == (policy, frac, codec)
    assert (q.gptq is not None, q.selective_prune is not None) == (gptq, sel)
    assert q.keep_float_max_numel == 65_536 and c.artifact.max_bytes == 16_000_000
    if q.prune:
        assert q.prune.min_numel == 65_536  # "every 2-D tensor > 65,536"
    if gptq:  # 64 self-generated sequences × 2048 at temperature 0.8, block 128, act-order, 1% damping
        g = q.gptq
        assert (g.calibration, g.batches * g.gen_batch, g.gen_seq_len, g.temperature) == ("generated", 64, 2048, 0.8)
        assert (g.block_size, g.act_order, g.damp) == (128, True, 0.01)
        assert q.selective_prune.bits == (6,) and q.selective_prune.target_bytes == 0  # the decimal cap


def _kinds(cfg, sd):
    pol = policy_for(cfg.quant, cfg.model.num_layers)
    out = {}
    for n, t in sd.items():
        r = pol.rule_for(n, t)
        out[n] = "exact" if r is None else (f"int{r.bits}" if r.action == "int" else r.action)
    return out


@pytest.mark.parametrize("name", ["pr198", "pr295", "pr601", "pr1473"])
def test_tiny_quantizes_the_same_tensors_as_full_size(name):
    full = get_recipe(name).build()
    small = tiny(full)
    with torch.device("meta"):
        kf = _kinds(full, GPT(full.model).state_dict())
        ks = _kinds(small, GPT(small.model).state_dict())

    def role(n, layers):  # blocks.{i} → early / late (the last two, where the tables' carve-outs live)
        if not n.startswith("blocks."):
            return n
        i, rest = n.split(".", 2)[1:]
        return f"{'late' if int(i) >= layers - 2 else 'early'}.{rest}"

    full_roles = {(role(n, full.model.num_layers), k) for n, k in kf.items()}
    small_roles = {(role(n, small.model.num_layers), k) for n, k in ks.items()}
    assert small_roles <= full_roles  # every tiny tensor gets a treatment its full-size counterpart gets
    assert {k for _, k in small_roles if k.startswith("int")} == {k for _, k in full_roles if k.startswith("int")}


@pytest.mark.parametrize("name", ["pr601", "pr1473"])
def test_qat_widths_are_the_exporters_own(name):
    """QAT without overrides targets exactly the tensors the export stores as intN, at the same N — including the
    tables' late-layer carve-outs, which depend on the model's depth (blocks.2/3.c_k are fp16 in tiny pr601)."""
    cfg = override(tiny(get_recipe(name).build()), {"model.vocab_size": 64, "train.qat.bits": ()})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    qat = build_qat(model, QATConfig(), cfg.quant, cfg.model.num_layers)
    targets = {n: b for n, _, b in qat.targets}
    _, meta = quantize_model_state(model.state_dict(), cfg.quant, cfg.model.num_layers)
    exported = {n: m["bits"] for n, m in meta.items() if m["kind"] == "int" and model.get_parameter(n).ndim >= 2}
    assert targets == exported and targets
    if name == "pr601":
        assert meta["blocks.3.attn.c_k.weight"]["kind"] == "fp16" and "blocks.3.attn.c_k.weight" not in targets
        assert targets["blocks.1.attn.c_k.weight"] == 6 and targets["blocks.0.mlp.fc.weight"] == 5


@pytest.mark.parametrize("name", ["pr295", "pr443"])
def test_small_fp16_gate_scales_with_tiny(name):
    """The seeds' ≤8,192-element fp16 gate (checked before the control patterns) shrinks by f² = (128/512)² at tiny
    size, as keep_float_max_numel does."""
    from pgolf.quant.policy import policy_for
    from pgolf.quant.tables import GATE_RULES

    full, small = get_recipe(name).build(), tiny(get_recipe(name).build())
    gate = [policy_for(c.quant, c.model.num_layers).rules[len(GATE_RULES)] for c in (full, small)]  # the seed table's first rule
    assert [(g.pattern, g.action, g.max_numel) for g in gate] == [("*", "fp16", 8192), ("*", "fp16", 8192 // 16)]
