"""FLOPs from the config against torch.utils.flop_counter on the full-size model (meta device), for every recipe."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from pgolf.model.flops import model_flops
from pgolf.model.gpt import GPT
from pgolf.recipes import REGISTRY, get_recipe
from pgolf.runtime.devices import device_peak, mfu


def counted_train_flops(model_cfg, seq_len: int, looping: bool | None = None) -> int:
    """flop_counter's total for one forward+backward of batch 1 × seq_len on the meta device."""
    with torch.device("meta"):
        model = GPT(model_cfg)
    if looping is not None:
        model.set_looping(looping)
    x = torch.zeros(1, seq_len, dtype=torch.long, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        model(x, x).backward()
    return counter.get_total_flops()


# every registered recipe at full size: baseline, pr198, pr1473 and whatever the registry holds (frontier recipes
# are covered the moment they register); each takes well under a second on meta
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_config_flops_equal_flop_counter(name):
    cfg = get_recipe(name).build()
    T = cfg.train.seq_len
    assert model_flops(cfg.model, T).train("full") == counted_train_flops(cfg.model, T)


def test_recurrence_counts_the_schedule_that_runs():
    cfg = get_recipe("baseline").build()
    from pgolf.config import override

    rec = override(cfg, {"model.recurrence": {"loop_start": 3, "loop_end": 5, "num_loops": 1}}).model
    T = 128
    looped, plain = model_flops(rec, T, looping=True), model_flops(rec, T, looping=False)
    assert looped.slots == rec.num_layers + 3 and plain.slots == rec.num_layers
    assert looped.train() == counted_train_flops(rec, T, looping=True)
    assert plain.train() == counted_train_flops(rec, T, looping=False)


def test_baseline_by_hand():
    """The naive baseline (9 × d512, 8/4 heads, MLP 2×, vocab 1024, T 1024) written out."""
    m = get_recipe("baseline").build().model
    T, d, kv, L = 1024, 512, 256, 9
    per_block = d * d + 2 * d * kv + d * d + 2 * d * 2 * d
    linear = 2 * T * (L * per_block + d * 1024)
    f = model_flops(m, T)
    assert f.linear == linear
    assert f.attention_full == L * 4 * d * T * T
    assert f.attention_causal == L * 4 * d * T * (T + 1) // 2
    assert f.per_token("causal") < f.per_token("full")


def test_device_table_and_mfu():
    assert device_peak("NVIDIA H100 80GB HBM3") == ("H100 SXM", 989e12)
    assert device_peak("NVIDIA H100 PCIe")[0] == "H100 PCIe"
    assert device_peak("NVIDIA H200")[0] == "H200 SXM"
    assert device_peak("NVIDIA GH200 480GB")[0] == "GH200"
    assert device_peak("NVIDIA A100-SXM4-80GB")[1] == 312e12
    assert device_peak("NVIDIA L40S")[0] == "L40S" and device_peak("NVIDIA L4")[0] == "L4"
    assert device_peak("cpu") is None and device_peak(None) is None
    assert mfu(1e9, 1e5, 1e15) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        model_flops(get_recipe("baseline").build().model, 8).forward("triangle")


@pytest.mark.parametrize("changes", [
    {"model.smear_gate": {"kind": "gated"}, "model.attn_gate": {"kind": "sparse"},
     "model.parallel_residual": {"start_layer": 7}, "model.tie_embeddings": False},
    {"model.attn_gate": {"kind": "dense"}, "model.bigram_hash": {"dim": 96},
     "model.value_embed": {"dim": 64, "layers": "last:2"}, "model.xsa": {"layers": "all"}},
], ids=["frontier-features", "seed-features"])
def test_feature_combinations(changes):
    """Features no registered recipe may combine yet: gated SmearGate, sparse gate, parallel lanes, untied head."""
    from pgolf.config import override

    m = override(get_recipe("baseline").build(), changes).model
    assert model_flops(m, 64).train() == counted_train_flops(m, 64)
