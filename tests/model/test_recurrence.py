"""Depth recurrence: the schedule against the SPEC's #1855 order, off/num_loops=0 = the plain model bit for bit, a
naive unrolled reference, causality, parameter count, gradients from every pass, the switch, config checks, tiny(),
and a tiny training run that switches looping on, checkpoints it and resumes bitwise."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _modelkit import build
from _modelkit import short_tokens as tokens

from pgolf.config import Config, ModelConfig, override, validate
from pgolf.errors import PgolfError
from pgolf.model.features.recurrence import LoopSwitch, RecurrenceConfig, unet_split, virtual_order
from pgolf.model.gpt import GPT
from pgolf.model.layers import rms_norm

PLAIN = ModelConfig(num_layers=6, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0)
LOOPED = override(PLAIN, {"recurrence": {"loop_start": 2, "loop_end": 3, "num_loops": 2, "enable_at": 0.5}})


def test_schedule_of_1855():
    """SPEC_FRONTIER.md §2.1: 11 layers, 3..5 looped twice → 17 virtual, encoder/decoder as published."""
    order = virtual_order(11, RecurrenceConfig(loop_start=3, loop_end=5, num_loops=2))
    enc, dec = unet_split(order)
    assert enc == [0, 1, 2, 3, 4, 5, 3, 4] and dec == [5, 3, 4, 5, 6, 7, 8, 9, 10]
    assert virtual_order(11, RecurrenceConfig(num_loops=0)) == list(range(11)) == virtual_order(11, None)
    with torch.device("meta"):
        model = GPT(override(ModelConfig(num_layers=11), {"recurrence": "on"}))
    assert model.skip_weights.shape[0] == 8  # one per (encoder, decoder) virtual pair


def test_num_loops_zero_and_switched_off_equal_the_plain_model():
    x = tokens()
    plain = build(PLAIN)
    zero = build(override(PLAIN, {"recurrence": {"num_loops": 0}}))
    assert torch.equal(zero.logits(x), plain.logits(x))  # same params, same init draws, same graph
    looped = build(LOOPED)
    with torch.no_grad():  # plain's weights into the looped model (its extra skip weights are unused when off)
        sd = looped.state_dict()
        for k, v in plain.state_dict().items():
            if k == "skip_weights":
                sd[k][: v.shape[0]] = v
            else:
                sd[k] = v
        looped.load_state_dict(sd)
    looped.set_looping(False)
    assert torch.equal(looped.logits(x), plain.logits(x))
    looped.set_looping(True)
    assert not torch.allclose(looped.logits(x), plain.logits(x))


def naive_logits(model: GPT, idx: torch.Tensor, order: list[int]) -> torch.Tensor:
    """Unrolled by hand: blocks in `order`, encoder = first half, skip k pairs encoder slot n−1−k with decoder k."""
    x = rms_norm(model.tok_emb(idx))
    x0, n = x, len(order) // 2
    enc_out = []
    for j, i in enumerate(order):
        if j >= n and j - n < n:
            x = x + model.skip_weights[j - n] * enc_out[n - 1 - (j - n)]
        x, _ = model.blocks[i](x, x0)
        if j < n:
            enc_out.append(x)
    z = F.linear(rms_norm(x), model.tok_emb.weight)
    return model.cfg.logit_softcap * torch.tanh(z / model.cfg.logit_softcap)


@pytest.mark.parametrize("extra", [{}, {"ln_scale": True, "xsa": {"layers": "2,5"}}])
def test_model_equals_naive_unrolled_reference(extra):
    model = build(override(LOOPED, extra))
    order = [0, 1, 2, 3, 2, 3, 2, 3, 4, 5]  # written out: layers 2..3 three times
    x = tokens()
    torch.testing.assert_close(model.logits(x), naive_logits(model, x, order), rtol=0, atol=1e-6)
    model.set_looping(False)
    torch.testing.assert_close(model.logits(x), naive_logits(model, x, list(range(6))), rtol=0, atol=1e-6)


def test_per_layer_choices_are_physical():
    model = build(override(LOOPED, {"ln_scale": True, "xsa": {"layers": "3"}}))
    assert [b.ln_scale for b in model.blocks] == [1 / (i + 1) ** 0.5 for i in range(6)]
    assert [b.attn.xsa for b in model.blocks] == [False, False, False, True, False, False]


def test_causality():
    model = build(override(LOOPED, {"value_residual": "on", "backout": "on"})).eval()
    x = tokens(T=20)
    y = x.clone()
    y[:, 11] = (y[:, 11] + 1) % PLAIN.vocab_size
    a, b = model.logits(x), model.logits(y)
    assert torch.equal(a[:, :11], b[:, :11]) and not torch.equal(a[:, 11:], b[:, 11:])


def test_param_count_grows_only_by_skip_weights():
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    plain, looped = build(PLAIN), build(LOOPED)
    extra = (len(virtual_order(6, LOOPED.recurrence)) // 2 - 3) * PLAIN.model_dim
    assert n(looped) - n(plain) == extra == 2 * 32
    assert {k for k in looped.state_dict()} == {k for k in plain.state_dict()}


def test_gradient_reaches_reused_layers_from_every_pass():
    model = build(LOOPED)
    outs = []

    def keep(module, args, out):
        out[0].retain_grad()
        outs.append(out[0])

    hook = model.blocks[2].register_forward_hook(keep)
    model(tokens(), tokens(seed=4)).backward()
    hook.remove()
    assert len(outs) == 3  # three passes through layer 2
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in outs)
    assert model.blocks[2].attn.c_q.weight.grad.abs().sum() > 0


def test_switch_changes_logits_only_from_enable_at():
    model = build(LOOPED)
    x = tokens()
    switch = LoopSwitch(model, 0.5)
    before = model.logits(x)
    assert not model.looping and not switch.maybe_switch_on(0.49)
    assert torch.equal(model.logits(x), before)
    assert switch.maybe_switch_on(0.5) and model.looping and not switch.maybe_switch_on(0.9)
    assert not torch.allclose(model.logits(x), before)
    with pytest.raises(ValueError):
        build(PLAIN).set_looping(True)
    assert LoopSwitch(build(LOOPED), 0.0).model.looping  # enable_at 0: loops from step 0


@pytest.mark.parametrize("change, key", [
    ({"model.recurrence.loop_end": 6}, "model.recurrence.loop_end"),
    ({"model.recurrence.loop_start": 4, "model.recurrence.loop_end": 3}, "model.recurrence.loop_end"),
    ({"model.recurrence.num_loops": -1}, "model.recurrence.num_loops"),
    ({"model.recurrence.enable_at": 1.0}, "model.recurrence.enable_at"),
])
def test_bad_config_is_one_line_error(change, key):
    cfg = override(Config(), {"model.num_layers": 6, "model.recurrence": "on", **change})
    with pytest.raises(PgolfError, match=f"^{key}: "):
        validate(cfg)


def test_tiny_keeps_the_loop_in_the_middle():
    from pgolf.recipes import tiny

    cfg = tiny(override(Config(), {"model.num_layers": 11, "model.recurrence": "on"}))
    r = cfg.model.recurrence
    assert (r.loop_start, r.loop_end, r.num_loops, r.enable_at) == (1, 2, 2, 0.35)
    validate(cfg)


class _Killed(Exception):
    pass


def test_tiny_run_switches_on_and_resumes_bitwise_after_the_switch(tiny_cfg, tmp_path, monkeypatch):
    """enable_at 0.5 of 6 steps → on at step 3; killed after the step-4 checkpoint (which stores looping=True)."""
    from pgolf.train import checkpoint as ckpt_mod
    from pgolf.train.run import run

    cfg = override(tiny_cfg, {"model.recurrence": {"loop_start": 1, "loop_end": 2, "enable_at": 0.5},
                              "train.iterations": 6, "train.checkpoint.every": 2, "train.warmup_steps": 1})
    full = run(cfg, tmp_path / "full", echo=False)
    log = (tmp_path / "full" / "train.log").read_text()
    assert "looping on at step 3" in log and log.count("priming step 1/1") == 2  # both graphs primed
    assert "before the looping switch" not in log
    original = ckpt_mod.Checkpointer.save

    def save(self, step, elapsed, parts):
        path = original(self, step, elapsed, parts)
        if step == 4:
            assert torch.load(path / "shared.pt", weights_only=True)["looping"] is True
            raise _Killed
        return path

    with monkeypatch.context() as m:
        m.setattr(ckpt_mod.Checkpointer, "save", save)
        with pytest.raises(_Killed):
            run(cfg, tmp_path / "killed", echo=False)
    restored = []
    monkeypatch.setattr(GPT, "set_looping", lambda self, on: (restored.append(on), setattr(self, "looping", on)))
    resumed = run(cfg, tmp_path / "killed", echo=False)
    # LoopSwitch starts it off; priming runs both graphs (off, on) and restores off; the checkpoint turns it back on
    assert restored[:5] == [False, False, True, False, True]
    assert (tmp_path / "full" / "model.pga").read_bytes() == (tmp_path / "killed" / "model.pga").read_bytes()
    assert resumed["val_bpb"] == full["val_bpb"]


def test_lora_bank_has_one_adapter_per_virtual_slot_equal_to_an_unrolled_model():
    """Each pass through a looped block gets its own adapter: the hooked looped model equals a 10-layer plain model
    whose block j is a copy of physical block order[j] with adapter j merged into its weights (W + s·(A B)ᵀ)."""
    from pgolf.eval.lora import LoRABank

    model = build(LOOPED).eval()
    order = model.schedule()[0]
    bank = LoRABank(model, ("c_q", "c_v", "mlp.proj"), rank=2, alpha=4.0, slots=1, seed=0, device=torch.device("cpu"))
    assert [bank.A[i].shape[1] for i, (n, _) in enumerate(bank.layers) if n.startswith("blocks.2.")] == [3, 3, 3]
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for b in bank.B:
            b.copy_(torch.randn(b.shape, generator=g))
    ref = GPT(override(PLAIN, {"num_layers": len(order)})).eval()
    sd = ref.state_dict()
    seen = {i: 0 for i in set(order)}
    lora = {n: (a, b) for (n, _), a, b in zip(bank.layers, bank.A, bank.B)}
    for k, v in model.state_dict().items():
        if not k.startswith("blocks."):
            sd[k] = v
    for j, i in enumerate(order):
        pass_k = seen[i]
        seen[i] += 1
        for k, v in model.blocks[i].state_dict().items():
            name = f"blocks.{i}.{k.removesuffix('.weight')}"
            if name in lora:
                a, b = lora[name]
                v = v + bank.scale * (a[0, pass_k] @ b[0, pass_k]).T
            sd[f"blocks.{j}.{k}"] = v
    ref.load_state_dict(sd)
    x = tokens(B=1)
    bank.attach()
    try:
        hooked = model.logits(x)
        again = model.logits(x)  # the per-layer pass counters wrap around between forwards
    finally:
        bank.detach()
    want = ref.logits(x)
    torch.testing.assert_close(hooked, want, rtol=0, atol=1e-5)
    assert torch.equal(hooked, again) and not torch.allclose(model.logits(x), want)


def test_lora_ttt_on_a_looped_model_under_compile_equals_eager():
    import numpy as np

    from pgolf.config import LoRATTTConfig, TTTConfig
    from pgolf.data.tokenizer import ByteLUT
    from pgolf.eval.bpb import DeviceLUT
    from pgolf.eval.ttt_lora import eval_ttt_lora
    from pgolf.runtime.dist import init_runtime

    torch.set_num_threads(1)
    model = build(LOOPED).eval()
    rt = init_runtime("cpu")
    rng = np.random.default_rng(0)
    toks = rng.integers(2, 64, 161).astype(np.uint16)
    toks[[0, 50, 110]] = 1
    lut = DeviceLUT(ByteLUT(np.ones(64, np.int16), np.zeros(64, bool), np.zeros(64, bool)), rt.device)
    t = TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=0.02, lora=LoRATTTConfig(rank=2, batch_docs=2))
    for p in model.parameters():
        p.requires_grad_(False)
    eager = eval_ttt_lora(model, toks, 32, t, lut, rt).result
    comp = eval_ttt_lora(model, toks, 32, t, lut, rt, compile=True, backend="aot_eager").result
    assert comp.val_loss == pytest.approx(eager.val_loss, rel=1e-5)


def test_compiled_model_follows_the_switch():
    """Under torch.compile(fullgraph=True) `looping` is guarded: toggling it recompiles instead of reusing a graph."""
    torch._dynamo.reset()
    model = build(override(LOOPED, {"parallel_residual": {"start_layer": 4}}))
    compiled = torch.compile(model, backend="eager", fullgraph=True, dynamic=False)
    x, y = tokens(), tokens(seed=4)
    model.set_looping(False)
    plain = compiled(x, y)
    assert torch.equal(plain, model(x, y))
    model.set_looping(True)
    looped = compiled(x, y)
    assert torch.equal(looped, model(x, y)) and not torch.equal(looped, plain)
    model.set_looping(False)
    assert torch.equal(compiled(x, y), plain)
    torch._dynamo.reset()


def test_a_run_that_stops_before_the_switch_is_evaluated_looped(tiny_cfg, tmp_path):
    from pgolf.train.run import run

    cfg = override(tiny_cfg, {"model.recurrence": {"loop_start": 1, "loop_end": 2, "enable_at": 0.9},
                              "train.iterations": 2})
    run(cfg, tmp_path, echo=False)
    log = (tmp_path / "train.log").read_text()
    assert "looping on" not in log and "training stopped before the looping switch" in log


def test_value_embedding_is_added_on_every_pass_of_its_physical_layer():
    model = build(override(LOOPED, {"value_embed": {"dim": 8, "layers": "3"}}))
    seen = []
    for i, b in enumerate(model.blocks):
        b.register_forward_pre_hook(lambda m, args, i=i: seen.append((i, args[2] is not None)))
    model.logits(tokens())
    assert [i for i, has_ve in seen if has_ve] == [3, 3, 3] and [i for i, _ in seen] == model.order_looped
