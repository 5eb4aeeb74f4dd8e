"""The frontier's two input-dependent gates together — SparseAttnGate (model.attn_gate.kind=sparse, #1787/#1855) and
the gated SmearGate (model.smear_gate.kind=gated, #1667 → #1851/#1855): causality, routing, the LoRA-TTT forward,
the KV-cache generation twin, tiny recipes and one graph, each with either gate and both. Each gate's own tests are
in test_attn_gate.py and test_smear_gate.py."""

from __future__ import annotations

import pytest
import torch
from _modelkit import BOS, BOTH, GATED, PLAIN, SPARSE, assert_causal, randomized, tokens

from pgolf.config import Config, override
from pgolf.eval.lora import LoRABank
from pgolf.model.gpt import GPT
from pgolf.quant.generate import cached_logits_ok, cached_step, kv_cached


@pytest.mark.parametrize("changes", [SPARSE, GATED, {**GATED, "smear_gate": {"kind": "gated", "reset_at_bos": False}},
                                     BOTH])
def test_causality(changes):
    model = randomized(GPT(override(PLAIN, changes)))
    assert_causal(model)


@pytest.mark.parametrize("routing", ["baseline", "pr198", "pr295", "pr443", "pr601", "pr1473"])
def test_routing_sends_the_gates_to_scalar_adam(routing):
    from pgolf.optim.routing import TABLES, route

    cfg = override(Config(), {"optim.routing": routing, "model": override(PLAIN, {**SPARSE, **GATED})})
    groups = route(GPT(cfg.model), TABLES[routing]())
    scalar = {n for n, _ in groups["scalar"]}
    assert {f"blocks.{i}.attn.attn_gate_w" for i in range(4)} | {"smear.gate_w", "smear.lam"} <= scalar


@pytest.mark.parametrize("changes", [SPARSE, GATED, BOTH])
def test_lora_ttt_forward_applies_the_gates(changes):
    """The TTT forward is the model's own: with zero adapters it equals the model; with random adapters it equals
    the model with the adapters merged into its weights — the gates are applied in both (#1787's TTT bug)."""
    model = randomized(GPT(override(PLAIN, changes))).eval()
    idx = tokens(B=2)
    ref = model.logits(idx)
    bank = LoRABank(model, ("c_q", "c_v", "proj"), rank=2, alpha=4.0, slots=2, seed=0, device=torch.device("cpu"))
    bank.attach()
    try:
        assert torch.equal(model.logits(idx), ref)
        g = torch.Generator().manual_seed(8)
        with torch.no_grad():
            for b in bank.B:
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
                b[1] = b[0]  # both documents share one adapter, so a merged model can stand in for it
        hooked = model.logits(idx)
    finally:
        bank.detach()
    merged = GPT(model.cfg).eval()
    sd = dict(model.state_dict())
    for (name, _), a, b in zip(bank.layers, bank.A, bank.B):
        sd[name + ".weight"] = sd[name + ".weight"] + bank.scale * (a[0, 0] @ b[0, 0]).T
    merged.load_state_dict(sd)
    assert torch.allclose(hooked, merged.logits(idx), atol=1e-5)
    assert not torch.allclose(hooked, ref, atol=1e-4)


@pytest.mark.parametrize("changes", [GATED, {**BOTH, "smear_gate": {"kind": "gated", "reset_at_bos": False}}])
def test_kv_cached_generation_equals_full_recomputation(changes):
    model = randomized(GPT(override(PLAIN, changes))).eval()
    idx = tokens(B=2, T=12, seed=3)
    idx[0, 6] = BOS
    with kv_cached(model) as caches:
        parts = [cached_step(model, idx[:, :5], caches, 5)]
        parts += [cached_step(model, idx[:, :t + 1], caches, 1) for t in range(5, 9)]
        parts.append(cached_step(model, idx, caches, 3))
    with torch.no_grad():
        ref = model.logits(idx)
    assert torch.allclose(torch.cat(parts, 1), ref, atol=1e-5, rtol=1e-5)
    assert cached_logits_ok(model, torch.device("cpu"))


def test_tiny_recipes_build_with_both_gates():
    from pgolf.recipes import get_recipe, tiny

    for name in ("pr601", "pr1473"):
        cfg = override(tiny(get_recipe(name).build()), {"model.attn_gate": {"kind": "sparse"},
                                                         "model.smear_gate": {"kind": "gated"}})
        from pgolf.config import validate

        validate(cfg)
        model = GPT(cfg.model)
        assert model.blocks[0].attn.attn_gate_w.shape == (cfg.model.num_heads, 12)
        assert model(tokens(B=1, T=8) % cfg.model.vocab_size, tokens(B=1, T=8) % cfg.model.vocab_size).isfinite()


@pytest.mark.slow
def test_both_gates_trace_as_one_graph():
    """torch.compile(fullgraph=True) is how CUDA runs train: no graph break (checked with the eager backend)."""
    model = randomized(GPT(override(PLAIN, BOTH)))
    compiled = torch.compile(model, backend="eager", fullgraph=True, dynamic=False)
    idx = tokens(T=16)
    idx[:, 3] = BOS
    assert torch.equal(compiled(idx, idx), model(idx, idx))
