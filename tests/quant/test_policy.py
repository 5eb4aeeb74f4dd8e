"""The policy table: first match wins, coverage is asserted, and each seed's table reproduces SPEC_SEEDS §1.7 on
state dicts with the seeds' tensor names and full-size shapes (meta tensors: only names, sizes and dtypes matter)."""

from __future__ import annotations

import pytest
import torch

from pgolf.config import Config, QuantConfig, QuantRule, from_dict, override, to_dict
from pgolf.errors import PgolfError
from pgolf.quant.policy import (
    Policy,
    bits_for,
    classify,
    dequantize_state_dict,
    policy_for,
    quantize_state_dict,
)


def seed_state(L: int, mlp_hidden: int, bigram=(2048, 128), ve=False, backout=False) -> dict[str, torch.Tensor]:
    d, kv, V = 512, 256, 1024
    e = lambda *s: torch.empty(*s, device="meta")
    sd = {"tok_emb.weight": e(V, d), "skip_weights": e(L // 2, d), "smear.gate": e(d),
          "bigram.embed.weight": e(*bigram), "bigram.proj.weight": e(d, bigram[1]), "bigram.scale": e(())}
    if backout:
        sd["backout_lambda"] = e(())
    if ve:
        sd.update({"ve_shared.embed.weight": e(V, 128), "ve_shared.proj.weight": e(kv, 128), "ve_shared.scale": e(()),
                   "ve_layer_scales.0": e(1), "ve_layer_scales.1": e(1)})
    for i in range(L):
        p = f"blocks.{i}."
        sd.update({p + "attn.c_q.weight": e(d, d), p + "attn.c_k.weight": e(kv, d), p + "attn.c_v.weight": e(kv, d),
                   p + "attn.proj.weight": e(d, d), p + "attn.q_gain": e(8), p + "mlp.fc.weight": e(mlp_hidden, d),
                   p + "mlp.proj.weight": e(d, mlp_hidden), p + "attn_scale": e(d), p + "mlp_scale": e(d),
                   p + "resid_mix": e(2, d)})
    return sd


def table(policy: str, sd, L: int) -> dict[str, str]:
    pol = policy_for(override(Config(), {"quant.policy": policy}).quant, L)
    pol.check_covers(sd)
    out = {}
    for n, t in sd.items():
        r = pol.rule_for(n, t)
        out[n] = f"int{r.bits}" if r.action == "int" else r.action
    return out


CONTROLS = ("skip_weights", "smear.gate", "bigram.scale", "blocks.0.attn.q_gain", "blocks.0.attn_scale",
            "blocks.0.mlp_scale", "blocks.0.resid_mix")


def test_pr1473_table():
    sd = seed_state(11, 1536, bigram=(3072, 112), ve=True)
    t = table("pr1473", sd, 11)
    assert t["tok_emb.weight"] == "int8" and t["bigram.embed.weight"] == "int8" and t["ve_shared.embed.weight"] == "int8"
    assert t["bigram.proj.weight"] == "fp16" and t["ve_shared.proj.weight"] == "fp16"  # 57,344 and 32,768 elements
    for i in range(11):
        for m in ("attn.c_q", "attn.c_k", "attn.c_v", "attn.proj", "mlp.fc", "mlp.proj"):
            assert t[f"blocks.{i}.{m}.weight"] == "int6"
    assert all(t[c] == "fp16" for c in (*CONTROLS, "ve_layer_scales.0", "ve_shared.scale"))
    r = policy_for(override(Config(), {"quant.policy": "pr1473"}).quant, 9).rule_for("blocks.0.mlp.fc.weight", sd["blocks.0.mlp.fc.weight"])
    assert (r.floor, r.neg_extra, r.clip) == (True, False, "search_tensor")  # [−31, 31], floor 1/31


def test_pr198_table():
    sd = seed_state(11, 1536, bigram=(2048, 128))
    t = table("pr198", sd, 11)
    assert t["tok_emb.weight"] == "int8" and t["bigram.embed.weight"] == "int8" and t["bigram.proj.weight"] == "fp16"
    assert t["blocks.10.attn.c_k.weight"] == "int6" and t["blocks.3.mlp.proj.weight"] == "int6"
    assert all(t[c] == "fp16" for c in CONTROLS)  # the size gate is checked before the control patterns
    r = policy_for(override(Config(), {"quant.policy": "pr198"}).quant, 9).rule_for("blocks.0.attn.c_q.weight", sd["blocks.0.attn.c_q.weight"])
    assert (r.floor, r.neg_extra, r.clip) == (True, True, "absmax")  # [−32, 31], floor 1/31


def test_pr295_table():
    sd = seed_state(10, 1536, bigram=(10240, 128), backout=True)
    t = table("pr295", sd, 10)
    assert t["tok_emb.weight"] == "fp16"
    assert t["blocks.8.attn.c_k.weight"] == "fp16" and t["blocks.9.attn.c_k.weight"] == "fp16"
    assert t["blocks.7.attn.c_k.weight"] == "int6" and t["blocks.0.mlp.fc.weight"] == "int5"
    assert t["bigram.embed.weight"] == "int6" and t["bigram.proj.weight"] == "fp16"  # 65,536: not > 65,536
    assert all(t[c] == "fp16" for c in (*CONTROLS, "backout_lambda"))


def test_pr443_table():
    sd = seed_state(10, 1536, bigram=(10240, 128))
    t = table("pr443", sd, 10)
    assert t["tok_emb.weight"] == "fp16" and t["blocks.8.attn.c_k.weight"] == "fp16"
    assert t["blocks.9.attn.c_k.weight"] == "int6" and t["blocks.2.mlp.proj.weight"] == "int5"
    assert t["bigram.proj.weight"] == "int6" and t["bigram.embed.weight"] == "int6"  # no size gate in #443
    small = table("pr443", seed_state(4, 1536, bigram=(10240, 128)), 4)  # the same row at another depth
    assert small["blocks.2.attn.c_k.weight"] == "fp16" and small["blocks.3.attn.c_k.weight"] == "int6"


def test_pr601_table():
    sd = seed_state(11, 1536, bigram=(1024, 128))
    t = table("pr601", sd, 11)
    assert t["tok_emb.weight"] == "fp16" and t["blocks.9.attn.c_k.weight"] == "fp16"
    assert t["blocks.10.attn.c_k.weight"] == "fp16" and t["blocks.8.attn.c_k.weight"] == "int6"
    assert t["blocks.0.mlp.fc.weight"] == "int5" and t["bigram.embed.weight"] == "int8"


def test_baseline_table_and_bits_for():
    sd = seed_state(9, 1024)
    t = table("baseline", sd, 9)
    assert t["tok_emb.weight"] == "int8" and t["blocks.0.attn.c_q.weight"] == "int8"
    assert t["blocks.0.attn_scale"] == "fp32" and t["smear.gate"] == "fp16"
    assert bits_for("blocks.0.mlp.fc.weight", sd["blocks.0.mlp.fc.weight"], Config().quant, 9) == 8
    cfg = override(Config(), {"quant.policy": "pr295", "model.num_layers": 10})
    assert bits_for("blocks.0.mlp.fc.weight", sd["blocks.0.mlp.fc.weight"], cfg.quant, cfg.model.num_layers) == 5
    assert bits_for("tok_emb.weight", sd["tok_emb.weight"], cfg.quant, cfg.model.num_layers) is None
    assert bits_for("step", torch.zeros((), dtype=torch.int64), cfg.quant, cfg.model.num_layers) is None


def test_coverage_is_asserted_and_first_match_wins():
    pol = Policy("custom", (QuantRule("blocks.*", "int", bits=4, clip="absmax"), QuantRule("*.weight", "fp16")))
    sd = {"blocks.0.w": torch.randn(4, 8), "x.weight": torch.randn(3), "orphan": torch.randn(2)}
    with pytest.raises(PgolfError, match="no rule matches tensor orphan"):
        quantize_state_dict(sd, pol)
    del sd["orphan"]
    tensors, meta = quantize_state_dict(sd, pol)
    assert meta["blocks.0.w"]["bits"] == 4 and meta["x.weight"]["kind"] == "fp16"
    # quant.rules are checked before the named table
    cfg = override(Config(), {"quant.rules": [{"pattern": "tok_emb.weight", "action": "fp32"}]})
    assert policy_for(cfg.quant, cfg.model.num_layers).bits_for("tok_emb.weight", torch.empty(1024, 512, device="meta")) is None


def test_rules_survive_config_round_trip_and_are_validated():
    cfg = override(Config(), {"quant.rules": [{"pattern": "*.mlp.*", "bits": 5, "clip": "sdclip", "clip_value": 12.0}],
                              "quant.policy": "pr601"})
    assert from_dict(Config, to_dict(cfg)) == cfg and cfg.quant.rules[0].bits == 5
    with pytest.raises(PgolfError, match="clip"):
        override(Config(), {"quant.rules": [{"clip": "bogus"}]})
    from pgolf.config import validate

    with pytest.raises(PgolfError, match=r"quant.rules\[0\].bits"):
        validate(override(Config(), {"quant.rules": [{"bits": 9}]}))


def test_state_round_trip_restores_dtypes_and_shapes():
    sd = {"a.weight": torch.randn(40, 30), "b": torch.randn(5).bfloat16(), "c": torch.arange(3), "d": torch.randn(2, 2)}
    q = QuantConfig(keep_float_max_numel=10)
    tensors, meta = quantize_state_dict(sd, policy_for(q, 1))  # the baseline table has no depth-dependent row
    out = dequantize_state_dict(tensors, meta)
    assert out["b"].dtype == torch.bfloat16 and torch.equal(out["c"], sd["c"]) and out["a.weight"].shape == (40, 30)
    assert meta["a.weight"]["kind"] == "int" and meta["b"]["kind"] == "fp16" and meta["c"]["kind"] == "exact"


def test_policy_classes():
    cfg = Config().quant
    assert classify("blocks.0.attn_scale", torch.zeros(512), cfg, 9) == "fp32"
    assert classify("blocks.0.resid_mix", torch.zeros(2, 512), cfg, 9) == "fp32"
    assert classify("tok_emb.weight", torch.zeros(1024, 512), cfg, 9) == "int8"
    assert classify("small.weight", torch.zeros(256, 256), cfg, 9) == "fp16"
    assert classify("idx", torch.zeros(3, dtype=torch.int64), cfg, 9) == "exact"
