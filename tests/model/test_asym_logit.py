"""AsymLogit (#1923): equals the symmetric cap at init, each side follows its own cap (naive per-element reference),
training never sees the caps (frozen, unrouted, no gradient through the training loss), evaluation does, and the
distribution stays a full softmax (C2); the config block round-trips."""

from __future__ import annotations

import math

import torch

from pgolf.config import Config, ModelConfig, from_dict, override, to_dict
from pgolf.model.features.asym_logit import TTT_ONLY, asym_softcap
from pgolf.model.gpt import GPT
from pgolf.optim.routing import TABLES, route

PLAIN = ModelConfig(num_layers=2, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0)
ASYM = override(PLAIN, {"asym_logit": "on"})


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = GPT(cfg)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n not in TTT_ONLY:  # same draws with and without the caps
                p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model


def tokens(B=2, T=12):
    return torch.randint(0, 64, (B, T), generator=torch.Generator().manual_seed(5))


def test_formula_against_a_per_element_loop():
    z = torch.randn(50) * 40
    pos, neg = torch.tensor(12.0), torch.tensor(45.0)
    want = torch.tensor([(12.0 * math.tanh(v / 12.0)) if v >= 0 else (45.0 * math.tanh(v / 45.0)) for v in z.tolist()])
    torch.testing.assert_close(asym_softcap(z, pos, neg), want, rtol=1e-6, atol=1e-5)


def test_init_equals_symmetric_and_each_side_moves_alone():
    x = tokens()
    plain, asym = build(PLAIN), build(ASYM)
    assert asym.softcap_pos.item() == asym.softcap_neg.item() == 30.0 and asym.softcap_pos.dim() == 0
    assert torch.equal(plain.logits(x), asym.logits(x))
    base = asym.logits(x)
    with torch.no_grad():
        asym.softcap_pos.fill_(5.0)
    moved = asym.logits(x)
    assert torch.equal(moved[base < 0], base[base < 0]) and (moved[base > 0] <= base[base > 0] + 1e-6).all()
    assert (moved[base > 1] < base[base > 1]).all()
    assert moved.max() <= 5.0
    p = torch.softmax(moved, -1).sum(-1)  # C2: a full softmax over the vocabulary
    torch.testing.assert_close(p, torch.ones_like(p))


def test_training_never_touches_the_caps():
    asym = build(ASYM)
    assert asym.ttt_only_names() == TTT_ONLY and build(PLAIN).ttt_only_names() == ()
    assert not asym.softcap_pos.requires_grad and not asym.softcap_neg.requires_grad
    routed = [n for items in route(asym, TABLES["baseline"]()).values() for n, _ in items]
    assert not set(TTT_ONLY) & set(routed)
    with torch.no_grad():
        asym.softcap_pos.fill_(3.0)  # training's objective uses the symmetric cap whatever the caps hold
    x = tokens()
    plain = build(PLAIN)
    torch.testing.assert_close(asym(x[:, :-1], x[:, 1:]), plain(x[:, :-1], x[:, 1:]), rtol=0, atol=0)
    asym.softcap_pos.requires_grad_(True)  # what a TTT does: the eval loss reaches the cap
    asym.token_losses(x[:, :-1], x[:, 1:]).mean().backward()
    assert asym.softcap_pos.grad is not None and asym.softcap_pos.grad.abs() > 0


def test_config_round_trip():
    cfg = override(Config(), {"model.asym_logit": "on"})
    assert from_dict(Config, to_dict(cfg)).model.asym_logit is not None
    assert from_dict(Config, to_dict(Config())).model.asym_logit is None
