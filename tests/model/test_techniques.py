"""Every technique of the seeds, one by one: off (or at its neutral setting) = the plain model, zero-init identity,
XSA efficient = naive, causality of every technique and of every seed's tiny model, BOS isolation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pgolf.config import ModelConfig, override
from pgolf.model.features.bigram_hash import BigramHashConfig, BigramHashEmbedding, bigram_buckets
from pgolf.model.features.smear_gate import SmearGate, SmearGateConfig
from pgolf.model.features.xsa import exclusive_self_attention
from pgolf.model.gpt import GPT

PLAIN = ModelConfig(num_layers=4, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0)
V = PLAIN.vocab_size

# technique → (config changes, the feature's own parameter names in the state dict, how to make it neutral)
TECHNIQUES = {
    "bigram_hash": ({"model.bigram_hash": {"buckets": 37, "dim": 8}}, {"bigram.embed.weight", "bigram.proj.weight",
                                                                        "bigram.scale"}, {"bigram.scale": 0.0}),
    "smear_gate": ({"model.smear_gate": "on"}, {"smear.gate"}, {"smear.gate": -1e4}),
    "value_embed": ({"model.value_embed": {"dim": 8, "layers": "2,3"}},
                    {"ve_shared.embed.weight", "ve_shared.proj.weight", "ve_shared.scale", "ve_layer_scales.0",
                     "ve_layer_scales.1"}, {"ve_shared.scale": 0.0}),
    "backout": ({"model.backout": {"init": 0.2}}, {"backout_lambda"}, {"backout_lambda": 0.0}),
    "value_residual": ({"model.value_residual": "on"}, {f"blocks.{i}.attn.vr_lambda" for i in range(4)},
                       {f"blocks.{i}.attn.vr_lambda": (0.0, 1.0) for i in range(4)}),
    "attn_gate": ({"model.attn_gate": "on"},
                  {f"blocks.{i}.attn.attn_gate.{w}" for i in range(4) for w in ("weight", "bias")},
                  {**{f"blocks.{i}.attn.attn_gate.bias": 1e4 for i in range(4)},
                   **{f"blocks.{i}.attn.attn_gate.weight": 0.0 for i in range(4)}}),
}
EXTRA = {  # techniques with no extra parameters and no neutral setting: only causality is checked here
    "xsa": {"model.xsa": {"layers": "last:2"}},
    "partial_rope": {"model.rope_dims": 4},
    "ln_scale": {"model.ln_scale": True},
    "leaky_relu2": {"model.mlp_activation": "leaky_relu2"},
    "bos_aware": {"model.smear_gate": {"reset_at_bos": True}, "model.bigram_hash": {"reset_at_bos": True}},
    "all_on": {"model.bigram_hash": {"buckets": 37, "dim": 8}, "model.smear_gate": "on", "model.backout": "on",
               "model.value_embed": {"dim": 8, "layers": "last:2"}, "model.xsa": "on", "model.value_residual": "on",
               "model.attn_gate": "on", "model.rope_dims": 4, "model.ln_scale": True,
               "model.mlp_activation": "leaky_relu2"},
}


def with_changes(changes: dict) -> ModelConfig:
    return override(PLAIN, {k.removeprefix("model."): v for k, v in changes.items()})


def randomized(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def tokens(B=2, T=24, seed=1):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(TECHNIQUES))
def test_neutral_setting_is_the_plain_model(name):
    changes, own, neutral = TECHNIQUES[name]
    plain = randomized(GPT(PLAIN))
    model = GPT(with_changes(changes))
    keys = model.load_state_dict(plain.state_dict(), strict=False)
    assert set(keys.missing_keys) == own and not keys.unexpected_keys  # the feature adds exactly these tensors
    sd = model.state_dict()
    with torch.no_grad():
        for k in own - set(neutral):
            sd[k].copy_(torch.randn_like(sd[k]))  # the feature's other weights are arbitrary …
        for k, v in neutral.items():
            sd[k].copy_(torch.tensor(v).expand_as(sd[k]))  # … only the neutral knob matters
    idx = tokens()
    assert torch.equal(model.logits(idx), plain.logits(idx))
    with torch.no_grad():  # and it is a real change once the knob moves
        for k in neutral:
            sd[k].copy_(torch.randn_like(sd[k]))
    assert not torch.allclose(model.logits(idx), plain.logits(idx), atol=1e-4)


@pytest.mark.parametrize("name,changes", [
    ("bigram_hash", {"model.bigram_hash": {"buckets": 37, "dim": 8}}),
    ("bigram_hash_no_proj", {"model.bigram_hash": {"buckets": 37, "dim": 32}}),
])
def test_zero_init_identity(name, changes):
    """At its own init the BigramHash branch outputs exactly 0: the model equals the plain one with shared weights."""
    plain = randomized(GPT(PLAIN))
    torch.manual_seed(3)
    model = GPT(with_changes(changes))
    model.load_state_dict(plain.state_dict(), strict=False)
    idx = tokens()
    assert torch.equal(model.logits(idx), plain.logits(idx))


def test_bigram_branch_gradient_is_alive_only_with_a_nonzero_half():
    """The seeds' trap: zero table and zero projection → no gradient ever; our init makes the projection orthogonal."""
    model = GPT(with_changes({"model.bigram_hash": {"buckets": 37, "dim": 8}}))
    assert not model.bigram.embed.weight.any() and model.bigram.proj.weight.any()
    idx = tokens()
    model(idx, idx).backward()
    assert model.bigram.embed.weight.grad.abs().sum() > 0
    dead = GPT(with_changes({"model.bigram_hash": {"buckets": 37, "dim": 8}}))
    with torch.no_grad():
        dead.bigram.proj.weight.zero_()
    dead(idx, idx).backward()
    assert not dead.bigram.embed.weight.grad.any() and not dead.bigram.proj.weight.grad.any()


def naive_xsa(y, v):
    """Per head, per position: y − (y·v̂)v̂ with v̂ the unit value of the KV head the query head shares."""
    B, T, H, D = y.shape
    group = H // v.size(2)
    out = torch.empty_like(y)
    for b in range(B):
        for t in range(T):
            for h in range(H):
                vh = v[b, t, h // group]
                vhat = vh / vh.norm()
                out[b, t, h] = y[b, t, h] - torch.dot(y[b, t, h], vhat) * vhat
    return out


def test_xsa_efficient_equals_naive_and_is_orthogonal_to_own_value():
    g = torch.Generator().manual_seed(0)
    y, v = torch.randn(2, 5, 6, 8, generator=g, dtype=torch.float64), torch.randn(2, 5, 3, 8, generator=g,
                                                                                   dtype=torch.float64)
    got = exclusive_self_attention(y, v)
    assert torch.allclose(got, naive_xsa(y, v), atol=1e-12)
    vn = F.normalize(v, dim=-1).repeat_interleave(2, dim=2)
    assert (got * vn).sum(-1).abs().max() < 1e-12
    assert not torch.allclose(got, y)


def test_xsa_applies_on_its_layer_set_only():
    model = GPT(with_changes({"model.xsa": {"layers": "last:2"}}))
    assert [b.attn.xsa for b in model.blocks] == [False, False, True, True]


def test_value_embedding_reaches_only_its_layers():
    cfg = with_changes({"model.value_embed": {"dim": 8, "layers": "1,3"}})
    model = randomized(GPT(cfg))
    seen = {}
    for i, b in enumerate(model.blocks):
        b.attn.register_forward_pre_hook(lambda m, args, i=i: seen.__setitem__(i, args[1] is not None))
    model.logits(tokens())
    assert seen == {0: False, 1: True, 2: False, 3: True}


def test_ln_scale_equals_rescaled_plain_model():
    """RMSNorm(x)·s feeds q/k through another RMSNorm (scale-free), v linearly (×s) and the MLP's squared activation
    (×s²): so LN scale equals the plain model with c_v scaled by s_l and mlp.proj by s_l² — a math identity."""
    plain = randomized(GPT(PLAIN))
    model = GPT(with_changes({"model.ln_scale": True}))
    model.load_state_dict(plain.state_dict())
    with torch.no_grad():
        for i, b in enumerate(plain.blocks):
            s = 1 / math.sqrt(i + 1)
            b.attn.c_v.weight.mul_(s)
            b.mlp.proj.weight.mul_(s * s)
    idx = tokens()
    assert torch.allclose(model.logits(idx), plain.logits(idx), atol=1e-5)


ALL = {**{k: v[0] for k, v in TECHNIQUES.items()}, **EXTRA}


@pytest.mark.parametrize("name", sorted(ALL))
def test_causality(name):
    model = randomized(GPT(with_changes(ALL[name])))
    idx, tgt = tokens(T=24), tokens(T=24, seed=2)
    idx[:, 5] = PLAIN.bos_id
    base = model.token_losses(idx, tgt)
    for t in (1, 9, 23):
        pert = idx.clone()
        pert[:, t:] = (pert[:, t:] + 1 + torch.arange(24 - t)) % V
        out = model.token_losses(pert, tgt)
        assert torch.equal(out[:, :t], base[:, :t])
        assert not torch.equal(out[:, t:], base[:, t:])


@pytest.mark.parametrize("recipe", ["pr198", "pr295", "pr443", "pr601", "pr1473"])
def test_causality_of_each_seed_model(recipe):
    from pgolf.recipes import get_recipe, tiny

    cfg = override(tiny(get_recipe(recipe).build()).model, {"vocab_size": V, "model_dim": 32, "num_layers": 4})
    model = randomized(GPT(cfg))
    idx, tgt = tokens(T=20), tokens(T=20, seed=2)
    base = model.token_losses(idx, tgt)
    pert = idx.clone()
    pert[:, 11:] = (pert[:, 11:] + 3) % V
    assert torch.equal(model.token_losses(pert, tgt)[:, :11], base[:, :11])


def _bos_seq(before_seed: int) -> torch.Tensor:
    """[random previous document …, BOS at 7, the same document after]."""
    idx = tokens(B=1, T=16, seed=9)
    idx[:, :7] = tokens(B=1, T=7, seed=before_seed)
    idx[:, 7] = PLAIN.bos_id
    idx[:, 8:] = torch.where(idx[:, 8:] == PLAIN.bos_id, 2, idx[:, 8:])
    return idx


@pytest.mark.parametrize("reset", [True, False])
def test_bos_isolation_smear_gate(reset):
    gate = SmearGate(SmearGateConfig(reset_at_bos=reset), 8, bos_id=PLAIN.bos_id)
    emb = torch.nn.Embedding(V, 8)
    a, b = _bos_seq(11), _bos_seq(12)
    ya, yb = gate(emb(a), a), gate(emb(b), b)
    assert torch.equal(ya[:, 7:], yb[:, 7:]) is reset  # without the reset the previous document leaks into BOS


@pytest.mark.parametrize("reset", [True, False])
def test_bos_isolation_bigram_hash(reset):
    big = BigramHashEmbedding(BigramHashConfig(buckets=37, dim=8, reset_at_bos=reset), 8, bos_id=PLAIN.bos_id)
    with torch.no_grad():
        big.embed.weight.normal_()
    a, b = _bos_seq(11), _bos_seq(12)
    assert torch.equal(big(a)[:, 7:], big(b)[:, 7:]) is reset
    assert bigram_buckets(a, 37, PLAIN.bos_id)[0, 7].item() == 36  # BOS gets the "no previous token" bucket


def test_bigram_hash_matches_the_published_formula():
    t = torch.tensor([[5, 1000, 3, 1023]])
    want = [2047] + [((36313 * c) ^ (27191 * p)) % 2047 for p, c in zip([5, 1000, 3], [1000, 3, 1023])]
    assert bigram_buckets(t, 2048).tolist() == [want]


@pytest.mark.slow
def test_every_technique_traces_as_one_graph():
    """torch.compile(fullgraph=True) is how CUDA runs train: no graph break anywhere (checked with the eager backend)."""
    bos = {"model.bigram_hash": {"buckets": 37, "dim": 8, "reset_at_bos": True}, "model.smear_gate.reset_at_bos": True}
    model = randomized(GPT(with_changes({**EXTRA["all_on"], **bos})))
    compiled = torch.compile(model, backend="eager", fullgraph=True, dynamic=False)
    idx = tokens(T=16)
    assert torch.equal(compiled(idx, idx), model(idx, idx))
