"""The frontier recipes pr1855 and pr2135: full-size parameter counts equal the records' logs (`model_params:`),
the logged Hyperparameters (transcribed here from train_seed42.log of each record), the parent deltas, the
submission.json figures, and the tiny transform."""

from __future__ import annotations

import json

import pytest
import torch

from pgolf.cli import main
from pgolf.config import Config, from_dict, to_dict, validate
from pgolf.model.gpt import GPT, count_params
from pgolf.recipes import REGISTRY, get_recipe, tiny

PARAMS = {"pr1855": 35_945_671, "pr2135": 35_945_673}  # model_params: in train_seed42.log of each record


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_params_equal_the_records_logs(name, capsys):
    assert main(["recipes", "show", name, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == PARAMS[name] == REGISTRY[name].reported["params"]
    assert count_params(get_recipe(name).build().model) == PARAMS[name]


def test_pr1855_is_the_logged_run():
    c = validate(get_recipe("pr1855").build())
    m, o, t, q = c.model, c.optim, c.train, c.quant
    assert (m.vocab_size, m.num_layers, m.model_dim, m.num_heads, m.num_kv_heads, m.mlp_mult) == (
        8192, 11, 512, 8, 4, 4.0)
    assert (m.rope_base, m.rope_dims, m.qk_gain_init, m.logit_softcap, m.ln_scale, m.tied_embed_init_std) == (
        1e4, 16, 5.0, 30.0, True, 0.005)
    assert m.bigram_hash is None and m.value_embed is None and m.xsa.layers == "all" and m.skip_gates is not None
    r = m.recurrence
    assert (r.loop_start, r.loop_end, r.num_loops, r.enable_at) == (3, 5, 2, 0.35)
    assert m.parallel_residual.start_layer == 8
    assert (m.smear_gate.kind, m.smear_gate.window, m.smear_gate.reset_at_bos) == ("gated", 12, True)
    assert (m.attn_gate.kind, m.attn_gate.window, m.attn_gate.scale) == ("sparse", 12, 0.5)
    assert m.varlen is not None and c.data.loader == "packed"
    assert (o.matrix_lr, o.tied_embed_lr, o.scalar_lr, o.muon_wd, o.adam_wd, o.embed_wd) == (
        0.026, 0.03, 0.02, 0.095, 0.02, 0.085)
    assert (o.muon_momentum, o.muon_momentum_warmup_start, o.muon_momentum_warmup_steps, o.muon_ns_steps) == (
        0.97, 0.92, 1500, 5)
    assert o.muon_ns == "polar_express" and o.muon_row_norm == "before_ns" and o.adam_betas == (0.9, 0.99)
    assert o.grad_clip_norm == 0.3 and o.adam_eps == 1e-8
    assert (c.schedule.warmdown_frac, c.schedule.min_lr) == (0.85, 0.1) and t.ema.decay == 0.9965
    assert (t.seq_len, t.batch_tokens, t.iterations, t.warmup_steps, t.max_wallclock_seconds) == (
        2048, 786_432, 20000, 20, 600.0)
    assert (q.gptq.batches, q.gptq.reserve_seconds, q.gptq.embeddings, q.policy) == (16, 0.5, True, "pr1855")
    assert (q.lqer.rank, q.lqer.top_k, q.lqer.b_group) == (4, 3, 64) and t.qat is None
    assert (c.eval.ttt.lora.rank, c.eval.ttt.lr, c.eval.ttt.weight_decay, c.eval.ttt.chunk_tokens) == (
        80, 1e-4, 0.5, 48)


def test_pr2135_delta_from_pr1855():
    a, b = get_recipe("pr1855").build(), validate(get_recipe("pr2135").build())
    assert b.model.asym_logit is not None and a.model.asym_logit is None
    assert b.model.smear_gate.reset_at_bos is False  # SMEAR_GATE_BOS_FIX unset (0) in #2135's run
    assert (b.optim.matrix_lr, b.quant.lqer.b_group, b.quant.gptq.batches, b.eval.seq_len) == (0.028, 32, 32, 2560)
    assert (b.eval.ttt.lr, b.eval.ttt.weight_decay, b.eval.ttt.lora.rank) == (8e-5, 2.0, 80)
    assert "attn.c_k" not in b.eval.ttt.lora.targets and "attn.c_k" in a.eval.ttt.lora.targets
    assert [r.pattern for r in b.quant.rules] == ["*.attn_gate_w"] and b.quant.rules[0].action == "fp16"


def test_reported_figures_are_the_submissions():
    r55, r35 = REGISTRY["pr1855"], REGISTRY["pr2135"]
    assert (r55.parent, r35.parent) == ("pr1473", "pr1855")
    assert (r55.reported["val_bpb"], r55.reported["artifact_bytes"], r55.reported["code_bytes"]) == (
        1.06107587, 15_907_550, 31_999)
    assert (r35.reported["val_bpb"], r35.reported["artifact_bytes"], r35.reported["seeds"]) == (
        1.05650768, 15_947_490, [314, 42, 0])


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_tiny_keeps_every_block_and_builds(name):
    full = get_recipe(name).build()
    small = validate(tiny(full))
    for block in ("smear_gate", "xsa", "attn_gate", "recurrence", "parallel_residual", "skip_gates", "varlen",
                  "asym_logit"):
        assert (getattr(full.model, block) is None) == (getattr(small.model, block) is None), block
    with torch.device("meta"):
        GPT(small.model)
    assert from_dict(Config, to_dict(full)) == full
