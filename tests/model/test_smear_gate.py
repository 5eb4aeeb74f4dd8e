"""SmearGate (model/features/smear_gate.py): the seeds' gate with and without its BOS reset, and the gated SmearGate
(model.smear_gate.kind=gated, #1667 → #1851/#1855): identity at init, a naive loop, where it runs, its BOS mask."""

from __future__ import annotations

import math

import pytest
import torch
from _modelkit import BOS, GATED, PLAIN, V, bos_seq, randomized, tokens

from pgolf.config import override
from pgolf.model.features.smear_gate import GatedSmearGate, SmearGate, SmearGateConfig, make_smear_gate
from pgolf.model.gpt import GPT


@pytest.mark.parametrize("reset", [True, False])
def test_bos_isolation_smear_gate(reset):
    gate = SmearGate(SmearGateConfig(reset_at_bos=reset), 8, bos_id=PLAIN.bos_id)
    emb = torch.nn.Embedding(V, 8)
    a, b = bos_seq(11), bos_seq(12)
    ya, yb = gate(emb(a), a), gate(emb(b), b)
    assert torch.equal(ya[:, 7:], yb[:, 7:]) is reset  # without the reset the previous document leaks into BOS


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


@pytest.mark.parametrize("reset", [None, False])
def test_gated_smear_bos_isolation(reset):
    """Perturbing document N never changes the smeared embeddings of document N+1 (from its BOS on) — with the mask."""
    gate = GatedSmearGate(SmearGateConfig(kind="gated", reset_at_bos=reset), bos_id=BOS)
    with torch.no_grad():
        gate.lam.fill_(0.9)
        gate.gate_w.normal_()
    emb = torch.nn.Embedding(V, 16)
    a, b = bos_seq(11), bos_seq(12)
    ya, yb = gate(emb(a), a), gate(emb(b), b)
    assert torch.equal(ya[:, 7:], yb[:, 7:]) is (reset is None)
