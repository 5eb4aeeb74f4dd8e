"""The trunk with every seed technique hooked in (model/gpt.py): each technique at its neutral setting is the plain
model, every technique alone and all at once are causal (BOS inside the window too), so is every seed's tiny model,
and the whole feature set traces as one graph. Each technique's own behaviour is tested in its own file."""

from __future__ import annotations

import pytest
import torch
from _modelkit import PLAIN, V, assert_causal, randomized, tokens, with_changes

from pgolf.config import override
from pgolf.model.gpt import GPT

# technique → (config changes, the feature's own parameter names in the state dict, how to make it neutral)
TECHNIQUES = {
    "bigram_hash": ({"model.bigram_hash": {"buckets": 37, "dim": 8}}, {"bigram.embed.weight", "bigram.proj.weight",
                                                                        "bigram.scale"}, {"bigram.scale": 0.0}),
    "smear_gate": ({"model.smear_gate": "on"}, {"smear.gate"}, {"smear.gate": -1e4}),
    "value_embed": ({"model.value_embed": {"dim": 8, "layers": "2,3"}},
                    {"ve_shared.embed.weight", "ve_shared.proj.weight", "ve_shared.scale", "ve_layer_scales.0",
                     "ve_layer_scales.1"}, {"ve_shared.scale": 0.0}),
    "backout": ({"model.backout": {"init": 0.2}}, {"backout_lambda"}, {"backout_lambda": 0.0}),
    "value_residual": ({"model.value_residual": "on"}, {f"blocks.{i}.attn.vr_lambda" for i in range(4)},
                       {f"blocks.{i}.attn.vr_lambda": (0.0, 1.0) for i in range(4)}),
    "attn_gate": ({"model.attn_gate": "on"},
                  {f"blocks.{i}.attn.attn_gate.{w}" for i in range(4) for w in ("weight", "bias")},
                  {**{f"blocks.{i}.attn.attn_gate.bias": 1e4 for i in range(4)},
                   **{f"blocks.{i}.attn.attn_gate.weight": 0.0 for i in range(4)}}),
}


EXTRA = {  # techniques with no extra parameters and no neutral setting: only causality is checked here
    "xsa": {"model.xsa": {"layers": "last:2"}},
    "partial_rope": {"model.rope_dims": 4},
    "ln_scale": {"model.ln_scale": True},
    "leaky_relu2": {"model.mlp_activation": "leaky_relu2"},
    "bos_aware": {"model.smear_gate": {"reset_at_bos": True}, "model.bigram_hash": {"reset_at_bos": True}},
    "all_on": {"model.bigram_hash": {"buckets": 37, "dim": 8}, "model.smear_gate": "on", "model.backout": "on",
               "model.value_embed": {"dim": 8, "layers": "last:2"}, "model.xsa": "on", "model.value_residual": "on",
               "model.attn_gate": "on", "model.rope_dims": 4, "model.ln_scale": True,
               "model.mlp_activation": "leaky_relu2"},
}


@pytest.mark.parametrize("name", sorted(TECHNIQUES))
def test_neutral_setting_is_the_plain_model(name):
    changes, own, neutral = TECHNIQUES[name]
    plain = randomized(GPT(PLAIN))
    model = GPT(with_changes(changes))
    keys = model.load_state_dict(plain.state_dict(), strict=False)
    assert set(keys.missing_keys) == own and not keys.unexpected_keys  # the feature adds exactly these tensors
    sd = model.state_dict()
    with torch.no_grad():
        for k in own - set(neutral):
            sd[k].copy_(torch.randn_like(sd[k]))  # the feature's other weights are arbitrary …
        for k, v in neutral.items():
            sd[k].copy_(torch.tensor(v).expand_as(sd[k]))  # … only the neutral knob matters
    idx = tokens()
    assert torch.equal(model.logits(idx), plain.logits(idx))
    with torch.no_grad():  # and it is a real change once the knob moves
        for k in neutral:
            sd[k].copy_(torch.randn_like(sd[k]))
    assert not torch.allclose(model.logits(idx), plain.logits(idx), atol=1e-4)


ALL = {**{k: v[0] for k, v in TECHNIQUES.items()}, **EXTRA}


@pytest.mark.parametrize("name", sorted(ALL))
def test_causality(name):
    model = randomized(GPT(with_changes(ALL[name])))
    assert_causal(model)


@pytest.mark.parametrize("recipe", ["pr198", "pr295", "pr443", "pr601", "pr1473"])
def test_causality_of_each_seed_model(recipe):
    from pgolf.recipes import get_recipe, tiny

    cfg = override(tiny(get_recipe(recipe).build()).model, {"vocab_size": V, "model_dim": 32, "num_layers": 4})
    model = randomized(GPT(cfg))
    idx, tgt = tokens(T=20), tokens(T=20, seed=2)
    base = model.token_losses(idx, tgt)
    pert = idx.clone()
    pert[:, 11:] = (pert[:, 11:] + 3) % V
    assert torch.equal(model.token_losses(pert, tgt)[:, :11], base[:, :11])


@pytest.mark.slow
def test_every_technique_traces_as_one_graph():
    """torch.compile(fullgraph=True) is how CUDA runs train: no graph break anywhere (checked with the eager backend)."""
    bos = {"model.bigram_hash": {"buckets": 37, "dim": 8, "reset_at_bos": True}, "model.smear_gate.reset_at_bos": True}
    model = randomized(GPT(with_changes({**EXTRA["all_on"], **bos})))
    compiled = torch.compile(model, backend="eager", fullgraph=True, dynamic=False)
    idx = tokens(T=16)
    assert torch.equal(compiled(idx, idx), model(idx, idx))
