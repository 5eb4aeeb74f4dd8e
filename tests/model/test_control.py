"""Control tensors have one source of truth (pgolf.model.control): every consumer reads its list from there, and TTT's
`params=control` adapts the run's `quant.control_patterns`, not a default list."""

from __future__ import annotations

import torch

from pgolf.config import Config, QuantConfig, override
from pgolf.eval.ttt import select_params
from pgolf.model import control
from pgolf.model.gpt import GPT
from pgolf.optim.routing import BASE_CONTROLS
from pgolf.quant.tables import SEED_CONTROLS


def test_every_consumer_reads_the_one_list():
    assert QuantConfig().control_patterns == control.CONTROL_PATTERNS == control.SEED_BASE + ("skip_gates", "attn_gate_w")
    assert BASE_CONTROLS is control.ROUTING_CONTROLS and SEED_CONTROLS is control.SEED_EXPORT_CONTROLS
    for names in (control.ROUTING_CONTROLS, control.SEED_EXPORT_CONTROLS):
        assert names[: len(control.SEED_BASE)] == control.SEED_BASE  # every list starts with the baseline's nine


def test_ttt_control_params_follow_the_runs_patterns():
    cfg = override(Config(), {"model.num_layers": 2, "model.model_dim": 32, "model.num_heads": 4,
                              "model.num_kv_heads": 2, "model.vocab_size": 64})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    low_dim = {n for n, p in model.named_parameters() if p.ndim < 2}
    plain = {n for n, _ in select_params(model, "control", cfg.quant.control_patterns)}
    two_d_controls = {n for n, _ in model.named_parameters() if "resid_mix" in n} | {"skip_weights"}  # (2, d), (n, d)
    assert plain == low_dim | two_d_controls
    widened = {n for n, _ in select_params(model, "control", (*cfg.quant.control_patterns, "c_q"))}
    assert widened - plain == {n for n, _ in model.named_parameters() if "c_q" in n and n not in low_dim}
    assert widened - plain  # the run's extra pattern reaches TTT
