"""σ-gated U-Net skips (#1855): off = the plain additive skip bit for bit, the gated blend against a naive
reference written from the formula, the zero-init value σ(0) = ½, the count with recurrence, the limits σ → 0 / 1,
causality, routing and config checks."""

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
from pgolf.optim.routing import TABLES, route

PLAIN = ModelConfig(num_layers=6, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0)
GATED = override(PLAIN, {"skip_gates": "on"})




def naive_logits(model: GPT, idx):
    """Blocks one by one; decoder slot j gets x ← σ(g)·x + (1 − σ(g))·w·skip (SPEC_FRONTIER §2, #1855's lerp)."""
    x = rms_norm(model.tok_emb(idx))
    x0, n, enc = x, 3, []
    for j in range(6):
        b = model.blocks[j]
        if j >= n:
            w, skip = model.skip_weights[j - n], enc[2 * n - 1 - j]
            if model.skip_gates is None:
                x = x + w * skip
            else:
                s = torch.sigmoid(model.skip_gates[j - n])
                x = s * x + (1 - s) * (w * skip)
        xin = b.resid_mix[0] * x + b.resid_mix[1] * x0
        x = xin + b.attn_scale * b.attn(rms_norm(xin))[0]
        x = x + b.mlp_scale * b.mlp(rms_norm(x))
        if j < n:
            enc.append(x)
    z = F.linear(rms_norm(x), model.tok_emb.weight)
    return 30.0 * torch.tanh(z / 30.0)


def test_off_is_plain_and_gated_equals_naive():
    x = tokens()
    plain = build(PLAIN)
    assert plain.skip_gates is None
    torch.testing.assert_close(plain.logits(x), naive_logits(plain, x), rtol=0, atol=1e-5)
    gated = build(GATED)
    torch.testing.assert_close(gated.logits(x), naive_logits(gated, x), rtol=0, atol=1e-5)


def test_init_and_limits():
    model = GPT(GATED)
    assert torch.equal(model.skip_gates, torch.zeros(3, 32))  # σ(0) = ½: not the plain model at init
    gated, plain = build(GATED), build(PLAIN)
    x = tokens()
    with torch.no_grad():  # σ(g) → 0 keeps only w·skip: same as plain when the stream is replaced, not added
        gated.skip_gates.fill_(60.0)  # σ = 1: the stream is kept, the skip dropped
        nosk = build(override(PLAIN, {"unet_skips": False}))
        nosk.load_state_dict({k: v for k, v in gated.state_dict().items() if not k.startswith("skip_")})
    torch.testing.assert_close(gated.logits(x), nosk.logits(x), rtol=0, atol=1e-6)
    assert not torch.allclose(plain.logits(x), gated.logits(x))


def test_count_with_recurrence_and_lanes():
    with torch.device("meta"):  # #1855: 17 virtual slots → 8 pairs × 512
        big = GPT(override(ModelConfig(num_layers=11), {"recurrence": "on", "parallel_residual": "on",
                                                         "skip_gates": "on"}))
    assert tuple(big.skip_gates.shape) == (8, 512)
    both = build(override(PLAIN, {"skip_gates": "on", "parallel_residual": {"start_layer": 4}}))
    x = tokens()
    out = both.logits(x)
    with torch.no_grad():
        both.skip_gates.add_(1.0)
    assert not torch.allclose(out, both.logits(x))  # the gate reaches lane0


def test_causal():
    model = build(GATED)
    x = tokens()
    y = x.clone()
    y[:, 9:] = (y[:, 9:] + 7) % 64
    assert torch.equal(model.token_losses(x[:, :-1], x[:, 1:])[:, :8], model.token_losses(y[:, :-1], y[:, 1:])[:, :8])


def test_routed_as_scalar_control_and_config_check():
    groups = route(build(GATED), TABLES["baseline"]())
    assert "skip_gates" in [n for n, _ in groups["scalar"]]
    with pytest.raises(PgolfError, match="model.skip_gates"):
        validate(override(Config(), {"model.skip_gates": "on", "model.unet_skips": False}))
