"""QAT: the fake-quantized forward is the exported RTN model, the STE gradient is the identity, and it reaches every
weight the forward reads — including #1473-style banks consumed through F.linear, which #1473's QAT never touched."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pgolf.config import Config, QuantConfig, override
from pgolf.model.gpt import GPT
from pgolf.quant.policy import classify
from pgolf.quant.rtn import dequantize, quantize_int8_percentile
from pgolf.train.qat import (
    QAT,
    QATConfig,
    build_qat,
    fake_quant,
    override_bits,
    policy_bits,
    row_quantile,
    scale_rule,
)


def _w(rows=24, cols=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g) * 0.05
    w[0, 3] = 0.9  # an outlier row
    w[1] *= 1e-3  # a tiny row: the 1/qmax scale floor binds
    return w


def test_policy_rule_equals_the_int8_exporter():
    for seed in range(3):
        w = _w(seed=seed)
        q, s = quantize_int8_percentile(w, 99.99984)
        assert torch.equal(fake_quant(w, 8, scale_rule("policy")), dequantize(q, s, w.dtype))


@pytest.mark.parametrize("n", [1, 2, 7, 512, 1536])
@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 0.9999984, 1.0])
def test_row_quantile_is_torch_quantile(n, q):
    a = torch.rand(6, n, generator=torch.Generator().manual_seed(n))
    a[0] = a[0, :1]  # ties
    assert torch.equal(row_quantile(a, q), torch.quantile(a, q, dim=1, keepdim=True))


def test_seed_rules_equal_their_formulas():
    w = _w()
    rowmax = w.abs().amax(dim=1, keepdim=True)
    s198 = torch.clamp(rowmax / 31, min=1 / 31)  # #198 / #1473: max(rowmax/31, 1/31), [-32, 31]
    assert torch.equal(fake_quant(w, 6, scale_rule("absmax_floor")), torch.clamp(torch.round(w / s198), -32, 31) * s198)
    s295 = rowmax.clamp_min(1e-12) / 15  # #295 MLP: levels 15, symmetric
    assert torch.equal(fake_quant(w, 5, scale_rule("absmax")), torch.clamp(torch.round(w / s295), -15, 15) * s295)
    s601 = (rowmax.clamp_min(1e-12) / 31).half().float()  # #601: fp16 scale, [-32, 31]
    assert torch.equal(fake_quant(w, 6, scale_rule("absmax_fp16")), torch.clamp(torch.round(w / s601), -32, 31) * s601)


def _gpt():
    cfg = override(Config(), {"model.num_layers": 2, "model.model_dim": 32, "model.num_heads": 4,
                              "model.num_kv_heads": 2, "model.vocab_size": 64})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "proj" in n:  # zero-init projections would hide the quantization
                p.normal_(0, 0.05)
    qcfg = QuantConfig(keep_float_max_numel=256)  # small enough that the toy matrices are int8
    return model, qcfg


def test_qat_forward_equals_the_rtn_dequantized_weights():
    model, qcfg = _gpt()
    qat = build_qat(model, QATConfig(), qcfg, len(model.blocks))
    names = {n for n, _, _ in qat.targets}
    assert names == {n for n, p in model.named_parameters() if classify(n, p, qcfg, len(model.blocks)) == "int8"} and len(names) >= 10
    x = torch.randint(0, 64, (2, 16))
    with qat.applied():
        got = model.logits(x)
    fp = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in names:
                p.copy_(dequantize(*quantize_int8_percentile(p, qcfg.clip_percentile), p.dtype))
        want = model.logits(x)
        for n, p in model.named_parameters():
            p.copy_(fp[n])
    assert torch.equal(got, want)
    assert not torch.equal(got, model.logits(x))  # quantization changed something


def test_ste_gradient_is_the_identity_and_weights_are_restored():
    model, qcfg = _gpt()
    qat = build_qat(model, QATConfig(), qcfg, len(model.blocks))
    x, y = torch.randint(0, 64, (2, 16)), torch.randint(0, 64, (2, 16))
    fp = {n: p.detach().clone() for n, p in model.named_parameters()}
    with qat.applied():
        model(x, y).backward()
    got = {n: p.grad.clone() for n, p in model.named_parameters()}
    assert all(torch.equal(p, fp[n]) for n, p in model.named_parameters())  # full precision back after backward
    # reference: the gradient of the loss at the quantized point, taken by an independent model holding Q(W)
    ref, _ = _gpt()
    with torch.no_grad():
        for (n, p), (_, q) in zip(ref.named_parameters(), model.named_parameters()):
            p.copy_(fake_quant(q, 8, scale_rule("policy")) if n in {t for t, _, _ in qat.targets} else q)
    ref(x, y).backward()
    for n, p in ref.named_parameters():
        assert torch.equal(got[n], p.grad), n


class Banked(nn.Module):
    """#1473's pattern: the block matrices live in a 3-D bank read with F.linear, next to one CastedLinear-style layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(32, 16)
        self.qo_bank = nn.Parameter(torch.randn(2, 16, 16) * 0.2)
        self.proj = nn.Linear(16, 16, bias=False)

    def forward(self, x, y):
        h = self.emb(x)
        for i in range(2):
            h = h + torch.relu(F.linear(h, self.qo_bank[i]))
        return F.cross_entropy(F.linear(self.proj(h), self.emb.weight).flatten(0, 1), y.flatten())


def _train(model, qat, steps=3):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(5)
    losses = []
    for _ in range(steps):
        x, y = torch.randint(0, 32, (4, 8), generator=g), torch.randint(0, 32, (4, 8), generator=g)
        opt.zero_grad()
        with qat.applied() if qat is not None else torch.enable_grad():
            loss = model(x, y)
            loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_qat_reaches_banked_weights():
    """Would have caught #1473: with QAT on the bank, its forward and its training differ from QAT off."""
    bits = override_bits(("_bank$=4", "proj=4"), lambda n, p: None)
    a, b = Banked(), Banked()
    qat = QAT(a, bits, scale_rule("absmax_floor"))
    assert [n for n, _, _ in qat.targets] == ["qo_bank", "proj.weight"]
    with qat.applied():
        banked_q = a.qo_bank.detach().clone()
    rows = banked_q.reshape(-1, 16)
    assert all(len(torch.unique(r)) <= 16 for r in rows)  # 4-bit grid per row of every bank matrix
    la, lb = _train(a, qat), _train(b, None)
    assert la[0] != lb[0]
    assert not torch.allclose(a.qo_bank, b.qo_bank)  # the real (full-precision) bank trained differently
    assert len(torch.unique(a.qo_bank)) > 100  # and it is still full precision outside the step


def test_late_switch_happens_once_below_the_threshold():
    model, qcfg = _gpt()
    qat = build_qat(model, QATConfig(late_threshold=0.15), qcfg, len(model.blocks))
    assert not qat.active
    assert [qat.maybe_switch_on(s) for s in (1.0, 0.5, 0.15, 0.149, 0.1)] == [False, False, False, True, False]
    assert qat.active


def test_switching_qat_on_does_not_recompile_and_the_graph_sees_it():
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()
    model, qcfg = _gpt()
    counter = CompileCounter()
    compiled = torch.compile(model, backend=counter, dynamic=False)
    qat = build_qat(model, QATConfig(late_threshold=0.5), qcfg, len(model.blocks))
    x, y = torch.randint(0, 64, (2, 16)), torch.randint(0, 64, (2, 16))
    off = compiled(x, y).item()
    frames = counter.frame_count
    assert qat.maybe_switch_on(0.1)
    with qat.applied():
        on = compiled(x, y).item()
        eager_on = model(x, y).item()
    assert counter.frame_count == frames and on == eager_on and on != off


def test_policy_bits_follow_the_exporter_and_overrides_win():
    qcfg = QuantConfig(keep_float_max_numel=100)
    big, small = torch.zeros(20, 20), torch.zeros(5, 5)
    bits = policy_bits(qcfg, 9)
    assert bits("blocks.0.mlp.fc.weight", big) == 8 and bits("x", small) is None
    o = override_bits(("mlp=5", "attn=none"), bits)
    assert o("blocks.0.mlp.fc.weight", big) == 5 and o("blocks.0.attn.c_q.weight", big) is None
    assert o("tok_emb.weight", big) == 8
    with pytest.raises(ValueError, match="regex=bits"):
        override_bits(("mlp:5",), bits)
    from pgolf.config import validate
    from pgolf.errors import PgolfError

    with pytest.raises(PgolfError, match="train.qat.bits"):
        validate(override(Config(), {"train.qat.bits": "mlp:5"}))


@pytest.mark.parametrize("recipe", ["baseline", "pr443", "pr1473"])
def test_export_rule_forward_is_the_exported_model_bit_for_bit(recipe):
    """scale=export: inside the swap every targeted weight equals what the exporter's state-dict path stores and
    loads for it (int6 per-matrix clip search, int5/int6 absmax, int8 percentile …), at the recipe's tiny size."""
    from pgolf.quant.policy import dequantize_state_dict, policy_for, quantize_state_dict
    from pgolf.recipes import get_recipe, tiny

    cfg = tiny(get_recipe(recipe).build())
    torch.manual_seed(0)
    model = GPT(cfg.model)
    with torch.no_grad():
        for p in model.parameters():  # trained-looking weights: no zero-init matrices, an outlier per matrix
            p.add_(torch.randn_like(p) * 0.05)
            if p.ndim == 2:
                p[0, 0] = 0.7
    qat = build_qat(model, QATConfig(scale="export"), cfg.quant, cfg.model.num_layers)
    assert qat.targets, recipe
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    tensors, meta = quantize_state_dict(state, policy_for(cfg.quant, cfg.model.num_layers))
    exported = dequantize_state_dict(tensors, meta)
    with qat.applied():
        for name, p, bits in qat.targets:
            assert meta[name]["kind"] == "int" and meta[name]["bits"] == bits, name
            assert torch.equal(p.detach(), exported[name]), name
    assert all(torch.equal(p.detach(), state[n]) for n, p, _ in qat.targets)  # restored after the swap
    # a different rule really gives a different forward (the check can fail)
    other = build_qat(model, QATConfig(scale="absmax"), cfg.quant, cfg.model.num_layers)
    with other.applied():
        assert any(not torch.equal(p.detach(), exported[n]) for n, p, _ in other.targets)
