"""The seed recipes' training dynamics (SPEC_SEEDS.md §1.4–§1.6 and §2, transcribed here independently): routing
table, Muon variant, weight averaging, QAT timing/scale rule, and — at full size on the meta device — exactly which
weights each seed's QAT fake-quantized at which bit width, against the seeds' own module rules re-stated naively."""

from __future__ import annotations

import pytest
import torch

from pgolf.config import validate
from pgolf.model.gpt import GPT
from pgolf.recipes import get_recipe, tiny
from pgolf.train.qat import override_bits

# name: (routing, row_norm, distribution, swa (every, threshold) | None, ema decay | None,
#        qat (late_threshold, scale) | None)
DYNAMICS = {
    "baseline": ("baseline", "none", "ddp", None, None, None),
    "pr198": ("pr198", "none", "ddp", (200, 0.5), None, None),
    "pr295": ("pr295", "none", "ddp", (50, 0.4), None, (None, "absmax")),
    "pr443": ("pr443", "none", "ddp", (50, 0.4), None, None),
    "pr601": ("pr601", "after_ns", "ddp", None, 0.997, (0.15, "absmax_fp16")),
    "pr1473": ("pr1473", "none", "sharded", None, 0.997, (0.15, "absmax_floor")),
}


@pytest.mark.parametrize("name", sorted(DYNAMICS))
def test_training_dynamics_as_run(name):
    c = validate(get_recipe(name).build())
    routing, row_norm, dist, swa, ema, qat = DYNAMICS[name]
    t = c.train
    assert (c.optim.routing, c.optim.muon_row_norm, t.distribution, c.optim.muon_ns) == (routing, row_norm, dist,
                                                                                        "ns5")
    assert ((t.swa.every, t.swa.threshold) if t.swa else None) == swa
    assert (t.ema.decay if t.ema else None) == ema
    assert ((t.qat.late_threshold, t.qat.scale) if t.qat else None) == qat


def _seed_rule(name: str, pname: str, p: torch.Tensor) -> int | None:
    """What each seed's QAT touched, from its module rules (SPEC_SEEDS.md §1.6), independent of regexes."""
    parts = pname.split(".")
    block_linear = parts[0] == "blocks" and parts[-1] == "weight" and p.ndim == 2 and parts[2] in ("attn", "mlp") \
        and parts[3] in ("c_q", "c_k", "c_v", "proj", "fc")
    if name == "pr295":  # CastedLinear > 65,536 elements: MLP L=15, attention L=31
        return (5 if parts[2] == "mlp" else 6) if block_linear and p.numel() > 65_536 else None
    if name == "pr601":  # every nn.Linear > 65,536 elements, int6
        return 6 if block_linear and p.numel() > 65_536 else None
    if name == "pr1473":  # CastedLinear only: the two projections outside the banks
        return 6 if pname in ("bigram.proj.weight", "ve_shared.proj.weight") else None
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["pr295", "pr601", "pr1473"])
def test_qat_targets_the_seeds_weights_at_full_size(name):
    c = get_recipe(name).build()
    with torch.device("meta"):
        model = GPT(c.model)
    bits_for = override_bits(c.train.qat.bits, lambda n, p: pytest.fail(f"{n} fell through to the policy"))
    got = {n: bits_for(n, p) for n, p in model.named_parameters()}
    want = {n: _seed_rule(name, n, p) for n, p in model.named_parameters()}
    assert got == want
    assert sum(b is not None for b in got.values()) == {"pr295": 60, "pr601": 66, "pr1473": 2}[name]


@pytest.mark.parametrize("name", ["pr198", "pr295", "pr601"])
def test_tiny_keeps_averaging_reachable(name):
    """A tiny run is 20 iterations with a 5-step warmdown: SWA must still take snapshots inside it."""
    t = tiny(get_recipe(name).build()).train
    if t.swa is not None:
        assert t.swa.every <= 2
    assert (t.ema is not None, t.qat is not None) == (name == "pr601", name in ("pr295", "pr601"))
