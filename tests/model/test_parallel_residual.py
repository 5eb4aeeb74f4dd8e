"""Two-lane parallel residuals: off = plain, a naive reference, initial values, causality, routing, config checks,
tiny(), and together with depth recurrence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _modelkit import build
from _modelkit import short_tokens as tokens

from pgolf.config import Config, ModelConfig, override, validate
from pgolf.errors import PgolfError
from pgolf.model.gpt import GPT
from pgolf.model.layers import rms_norm

PLAIN = ModelConfig(num_layers=6, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0)
PAR = override(PLAIN, {"parallel_residual": {"start_layer": 4}})


def naive_logits(model: GPT, idx, order, start):
    """Written from SPEC_FRONTIER.md §2.2, block by block with explicit lanes."""
    x = rms_norm(model.tok_emb(idx))
    x0, n, enc, lanes = x, len(order) // 2, [], None
    post = model.parallel_post_lambdas.view(-1, 2, 2) if start is not None else None
    resid = model.parallel_resid_lambdas.view(-1, 2) if start is not None else None
    for j, i in enumerate(order):
        b = model.blocks[i]
        skip = model.skip_weights[j - n] * enc[2 * n - 1 - j] if n <= j < 2 * n else 0.0
        if start is None or i < start:
            x = x + skip
            xin = b.resid_mix[0] * x + b.resid_mix[1] * x0
            x = xin + b.attn_scale * b.attn(rms_norm(xin))[0]
            x = x + b.mlp_scale * b.mlp(rms_norm(x))
            if j < n:
                enc.append(x)
            continue
        l0, l1 = lanes if lanes is not None else (x, x)
        l0 = l0 + skip
        a = b.attn_scale * b.attn(rms_norm(b.resid_mix[0] * l0 + b.resid_mix[1] * x0))[0]
        m = b.mlp_scale * b.mlp(rms_norm(l1))
        p, lam = post[i - start], resid[i - start]
        lanes = (lam[0] * l0 + p[0, 0] * a + p[1, 0] * m, lam[1] * l1 + p[0, 1] * a + p[1, 1] * m)
    if lanes is not None:
        x = (lanes[0] + lanes[1]) / 2
    z = F.linear(rms_norm(x), model.tok_emb.weight)
    return 30.0 * torch.tanh(z / 30.0)


def test_initial_values_and_param_count():
    model = GPT(PAR)
    assert model.parallel_post_lambdas.tolist() == [1.0] * 8 and torch.equal(model.parallel_resid_lambdas, torch.full((4,), 1.1))
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in GPT(PLAIN).parameters())
    assert extra == 6 * (6 - 4)
    with torch.device("meta"):  # #1855's shape: 11 layers from 8 → 3 parallel layers, 18 learned scalars
        big = GPT(override(ModelConfig(num_layers=11), {"parallel_residual": "on"}))
    assert big.parallel_post_lambdas.numel() + big.parallel_resid_lambdas.numel() == 18


def test_off_is_plain_and_equals_naive_reference():
    x = tokens()
    plain = build(PLAIN)
    torch.testing.assert_close(plain.logits(x), naive_logits(plain, x, list(range(6)), None), rtol=0, atol=1e-5)
    model = build(PAR)
    torch.testing.assert_close(model.logits(x), naive_logits(model, x, list(range(6)), 4), rtol=0, atol=1e-5)
    assert not torch.allclose(model.logits(x), plain.logits(x))


def test_with_recurrence_equals_naive_reference():
    cfg = override(PAR, {"recurrence": {"loop_start": 1, "loop_end": 2, "num_loops": 1}})
    model = build(cfg)
    x = tokens()
    order = [0, 1, 2, 1, 2, 3, 4, 5]
    torch.testing.assert_close(model.logits(x), naive_logits(model, x, order, 4), rtol=0, atol=1e-5)


def test_causality():
    model = build(override(PAR, {"recurrence": {"loop_start": 1, "loop_end": 2}}))
    x = tokens(T=20)
    y = x.clone()
    y[:, 9] = (y[:, 9] + 1) % 64
    a, b = model.logits(x), model.logits(y)
    assert torch.equal(a[:, :9], b[:, :9]) and not torch.equal(a[:, 9:], b[:, 9:])


def test_lambdas_route_to_scalar_adam():
    from pgolf.optim.routing import TABLES, route

    cfg = override(Config(), {"model.num_layers": 6, "model.model_dim": 32, "model.num_heads": 4,
                              "model.num_kv_heads": 2, "model.parallel_residual.start_layer": 4})
    for name, rules in TABLES.items():
        groups = route(GPT(cfg.model), rules())  # asserts every parameter is routed exactly once
        scalar = {n for n, _ in groups["scalar"]}
        assert {"parallel_post_lambdas", "parallel_resid_lambdas"} <= scalar, name


@pytest.mark.parametrize("change, key", [
    ({"model.parallel_residual.start_layer": 2}, "model.parallel_residual.start_layer"),  # in the encoder
    ({"model.parallel_residual.start_layer": 6}, "model.parallel_residual.start_layer"),
    ({"model.parallel_residual.start_layer": 3, "model.recurrence": {"loop_start": 2, "loop_end": 4}},
     "model.parallel_residual.start_layer"),
    ({"model.parallel_residual.start_layer": 4, "model.backout.layer": 5}, "model.backout.layer"),
])
def test_bad_config_is_one_line_error(change, key):
    with pytest.raises(PgolfError, match=f"^{key}: "):
        validate(override(Config(), {"model.num_layers": 6, **change}))


def test_tiny_maps_the_start_layer():
    from pgolf.recipes import tiny

    cfg = tiny(override(Config(), {"model.num_layers": 11, "model.parallel_residual": "on", "model.recurrence": "on"}))
    assert cfg.model.parallel_residual.start_layer == 3 and cfg.model.recurrence.loop_end == 2
    validate(cfg)
    # without loops: 3 from the top (8 of 11 → 1 of 4), raised to the first decoder layer (2 of 4)
    assert tiny(override(Config(), {"model.num_layers": 11, "model.parallel_residual": "on"})
                ).model.parallel_residual.start_layer == 2
