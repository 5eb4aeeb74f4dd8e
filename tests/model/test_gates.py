"""The frontier's input-dependent gates: SparseAttnGate (model.attn_gate.kind=sparse, #1787/#1855) and the gated
SmearGate with its BOS mask (model.smear_gate.kind=gated, #1667 → #1851/#1855). Each against a naive reference
written here, at init against the plain model, for causality, BOS isolation, routing, export, the LoRA-TTT hooks
and the KV-cache generation twin."""

from __future__ import annotations

import math

import pytest
import torch
from test_techniques import (  # the same small model and helpers as every technique
    PLAIN,
    V,
    randomized,
    tokens,
)

from pgolf.config import Config, override
from pgolf.eval.lora import LoRABank
from pgolf.model.features.attn_gate import apply_sparse_attn_gate
from pgolf.model.features.smear_gate import GatedSmearGate, SmearGate, SmearGateConfig, make_smear_gate
from pgolf.model.gpt import GPT
from pgolf.quant.generate import cached_logits_ok, cached_step, kv_cached

BOS = PLAIN.bos_id
SPARSE = {"attn_gate": {"kind": "sparse", "window": 12, "scale": 0.5}}
GATED = {"smear_gate": {"kind": "gated"}}
BOTH = {**SPARSE, **GATED, "bigram_hash": {"buckets": 37, "dim": 8}}


# ---------------------------------------------------------------- SparseAttnGate


def test_sparse_gate_is_one_half_at_init_the_plain_model_with_halved_attention():
    plain = randomized(GPT(PLAIN))
    model = GPT(override(PLAIN, SPARSE))
    keys = model.load_state_dict(plain.state_dict(), strict=False)
    assert set(keys.missing_keys) == {f"blocks.{i}.attn.attn_gate_w" for i in range(4)} and not keys.unexpected_keys
    assert all(torch.equal(b.attn.attn_gate_w, torch.zeros(4, 12)) for b in model.blocks)
    # reference: the plain model whose attention output is halved (W_o · (y/2) = (W_o/2) · y)
    halved = GPT(PLAIN)
    sd = {k: v * 0.5 if k.endswith("attn.proj.weight") else v for k, v in plain.state_dict().items()}
    halved.load_state_dict(sd)
    idx = tokens()
    assert torch.allclose(model.logits(idx), halved.logits(idx), atol=1e-6, rtol=1e-6)
    assert not torch.allclose(model.logits(idx), plain.logits(idx), atol=1e-4)


@pytest.mark.parametrize("scale", [0.5, 1.0])
def test_sparse_gate_equals_a_naive_loop(scale):
    g = torch.Generator().manual_seed(4)
    B, T, H, D, C, win = 2, 5, 3, 4, 16, 6
    y, x, w = torch.randn(B, T, H, D, generator=g), torch.randn(B, T, C, generator=g), torch.randn(H, win, generator=g)
    ref = torch.empty_like(y)
    for b in range(B):
        for t in range(T):
            for h in range(H):
                z = scale * sum(w[h, j].item() * x[b, t, j].item() for j in range(win))
                ref[b, t, h] = y[b, t, h] / (1 + math.exp(-z))
    assert torch.allclose(apply_sparse_attn_gate(y, x, w, scale), ref, atol=1e-6)


def test_sparse_gate_reads_only_its_window_of_the_normed_block_input():
    """The model-level gate: block 1's attention input h (captured by a hook) gates the heads; the module output is
    W_o(σ(s·W h[:win])·y), y from a reference GQA attention; channels ≥ window do not change the gate."""
    model = randomized(GPT(override(PLAIN, SPARSE))).eval()
    attn = model.blocks[1].attn
    seen = {}
    attn.register_forward_hook(lambda m, args, out: seen.update(h=args[0], out=out[0]))
    model.logits(tokens())
    h = seen["h"]
    q, k, v, _ = attn.qkv(h)
    y = torch.nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.repeat_interleave(2, 2).transpose(1, 2),
                                                         v.repeat_interleave(2, 2).transpose(1, 2), is_causal=True)
    z = 0.5 * torch.einsum("btc,hc->bth", h[..., :12], attn.attn_gate_w)
    ref = attn.proj((y.transpose(1, 2) * torch.sigmoid(z)[..., None]).reshape(h.shape))
    assert torch.allclose(seen["out"], ref, atol=1e-5)
    h2 = torch.cat([h[..., :12], torch.randn_like(h[..., 12:])], -1)  # channels past the window do not matter
    g1 = apply_sparse_attn_gate(torch.ones(2, 24, 4, 1), h, attn.attn_gate_w, 0.5)
    g2 = apply_sparse_attn_gate(torch.ones(2, 24, 4, 1), h2, attn.attn_gate_w, 0.5)
    assert torch.equal(g1, g2)


@pytest.mark.parametrize("changes", [SPARSE, GATED, {**GATED, "smear_gate": {"kind": "gated", "reset_at_bos": False}},
                                     BOTH])
def test_causality(changes):
    model = randomized(GPT(override(PLAIN, changes)))
    idx, tgt = tokens(T=24), tokens(T=24, seed=2)
    idx[:, 5] = BOS
    base = model.token_losses(idx, tgt)
    for t in (1, 9, 23):
        pert = idx.clone()
        pert[:, t:] = (pert[:, t:] + 1 + torch.arange(24 - t)) % V
        out = model.token_losses(pert, tgt)
        assert torch.equal(out[:, :t], base[:, :t])
        assert not torch.equal(out[:, t:], base[:, t:])


@pytest.mark.parametrize("routing", ["baseline", "pr198", "pr295", "pr443", "pr601", "pr1473"])
def test_routing_sends_the_gates_to_scalar_adam(routing):
    from pgolf.optim.routing import TABLES, route

    cfg = override(Config(), {"optim.routing": routing, "model": override(PLAIN, {**SPARSE, **GATED})})
    groups = route(GPT(cfg.model), TABLES[routing]())
    scalar = {n for n, _ in groups["scalar"]}
    assert {f"blocks.{i}.attn.attn_gate_w" for i in range(4)} | {"smear.gate_w", "smear.lam"} <= scalar


def test_sparse_gate_is_exported_int8_per_row_and_kept_fp32_in_training():
    from pgolf.model.layers import apply_training_precision
    from pgolf.quant.policy import dequantize_state_dict, policy_for, quantize_state_dict

    for table in ("baseline", "pr198", "pr295", "pr443", "pr601", "pr1473"):
        cfg = override(Config(), {"quant.policy": table, "model": override(PLAIN, SPARSE)})
        rule = policy_for(cfg.quant, cfg.model.num_layers).rule_for("blocks.0.attn.attn_gate_w", torch.zeros(4, 12))
        assert (rule.action, rule.bits, rule.clip) == ("int", 8, "absmax")
    model = randomized(GPT(cfg.model))
    sd = model.state_dict()
    q, meta = quantize_state_dict(sd, policy_for(cfg.quant, cfg.model.num_layers))
    back = dequantize_state_dict(q, meta)
    w, wq = sd["blocks.0.attn.attn_gate_w"], back["blocks.0.attn.attn_gate_w"]
    step = w.abs().amax(1, keepdim=True) / 127  # one scale per head row
    assert ((w - wq).abs() <= step / 2 + 1e-3 * step).all()
    apply_training_precision(model, cfg.quant.control_patterns)
    assert model.blocks[0].attn.attn_gate_w.dtype == torch.float32


# ---------------------------------------------------------------- gated SmearGate


def test_gated_smear_is_the_identity_at_init():
    plain = randomized(GPT(PLAIN))
    model = GPT(override(PLAIN, GATED))
    keys = model.load_state_dict(plain.state_dict(), strict=False)
    assert set(keys.missing_keys) == {"smear.gate_w", "smear.lam"} and not keys.unexpected_keys
    idx = tokens()
    assert torch.equal(model.logits(idx), plain.logits(idx))
    with torch.no_grad():
        model.smear.lam.fill_(0.7)
    assert not torch.allclose(model.logits(idx), plain.logits(idx), atol=1e-4)


@pytest.mark.parametrize("reset", [True, False])
def test_gated_smear_equals_a_naive_loop(reset):
    g = torch.Generator().manual_seed(5)
    gate = GatedSmearGate(SmearGateConfig(kind="gated", window=5, reset_at_bos=reset), bos_id=BOS)
    with torch.no_grad():
        gate.gate_w.copy_(torch.randn(5, generator=g))
        gate.lam.fill_(-0.8)
    x, idx = torch.randn(2, 9, 7, generator=g), tokens(B=2, T=9, seed=6)
    idx[0, 4] = idx[1, 0] = BOS
    ref = x.clone()
    for b in range(2):
        for t in range(1, 9):
            if reset and idx[b, t] == BOS:
                continue
            z = sum(gate.gate_w[j].item() * x[b, t, j].item() for j in range(5))
            ref[b, t] = x[b, t] + (-0.8) / (1 + math.exp(-z)) * x[b, t - 1]
    assert torch.allclose(gate(x, idx), ref, atol=1e-6)


def test_gated_smear_runs_on_the_raw_embedding_before_the_first_rmsnorm():
    model = randomized(GPT(override(PLAIN, GATED))).eval()
    idx = tokens()
    seen = {}
    model.blocks[0].register_forward_pre_hook(lambda m, args: seen.update(x=args[0], x0=args[1]))
    model.logits(idx)
    want = torch.nn.functional.rms_norm(model.smear(model.tok_emb(idx), idx), (PLAIN.model_dim,))
    assert torch.allclose(seen["x0"], want, atol=1e-6)


def test_bos_mask_defaults_per_kind():
    assert GatedSmearGate(SmearGateConfig(kind="gated"), BOS).bos_id == BOS  # gated: masked by default
    assert SmearGate(SmearGateConfig(), 8, BOS).bos_id is None  # seed: the seeds' leak, bit-identical
    assert make_smear_gate(SmearGateConfig(kind="gated", reset_at_bos=False), 8, BOS).bos_id is None


def _bos_seq(before_seed: int) -> torch.Tensor:
    """[random previous document …, BOS at 7, the same document after]."""
    idx = tokens(B=1, T=16, seed=9)
    idx[:, :7] = tokens(B=1, T=7, seed=before_seed)
    idx[:, 7] = BOS
    idx[:, 8:] = torch.where(idx[:, 8:] == BOS, 2, idx[:, 8:])
    return idx


@pytest.mark.parametrize("reset", [None, False])
def test_gated_smear_bos_isolation(reset):
    """Perturbing document N never changes the smeared embeddings of document N+1 (from its BOS on) — with the mask."""
    gate = GatedSmearGate(SmearGateConfig(kind="gated", reset_at_bos=reset), bos_id=BOS)
    with torch.no_grad():
        gate.lam.fill_(0.9)
        gate.gate_w.normal_()
    emb = torch.nn.Embedding(V, 16)
    a, b = _bos_seq(11), _bos_seq(12)
    ya, yb = gate(emb(a), a), gate(emb(b), b)
    assert torch.equal(ya[:, 7:], yb[:, 7:]) is (reset is None)


# ---------------------------------------------------------------- the other forwards: LoRA TTT, KV-cache twin


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
