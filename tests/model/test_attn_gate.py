"""SparseAttnGate (model/features/attn_gate.py, model.attn_gate.kind=sparse, #1787/#1855): one half at init (the
plain model with halved attention), a naive loop, the window of the normed block input it reads, int8 export and
fp32 training precision."""

from __future__ import annotations

import math

import pytest
import torch
from _modelkit import PLAIN, SPARSE, randomized, tokens

from pgolf.config import Config, override
from pgolf.model.features.attn_gate import apply_sparse_attn_gate
from pgolf.model.gpt import GPT


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
