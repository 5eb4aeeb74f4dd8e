"""The five seed recipes: full-size parameter counts (meta device), the submitted runs' settings from SPEC_SEEDS.md
§2/§5 (transcribed here independently), metadata, the tiny transform, and the OrthoInit targets at both sizes."""

from __future__ import annotations

import json
import re

import pytest
import torch

from pgolf.cli import main
from pgolf.config import to_dict, validate
from pgolf.model.gpt import GPT, count_params
from pgolf.model.init import ortho_targets
from pgolf.recipes import REGISTRY, get_recipe, tiny

PARAMS = {"baseline": 17_059_912, "pr198": 26_829_913, "pr295": 25_517_138, "pr443": 25_517_137,
          "pr601": 26_744_007, "pr1473": 27_067_484}
SEEDS = ["pr198", "pr295", "pr443", "pr601", "pr1473"]


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_recipes_show_params_equal_the_seeds_models(name, capsys):
    assert main(["recipes", "show", name, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == PARAMS[name] == count_params(get_recipe(name).build().model)


# SPEC_SEEDS.md §2 (technique × seed table, run configuration) and §5 (knobs as run)
SPEC = {
    "pr198": dict(layers=11, mlp=3.0, seq=2048, batch=786_432, lr=(0.025, 0.025, 0.035), wd=(0.04, 0.04),
                  warmdown=3000, wall=600.0, iters=9000, bigram=(2048, 128), eval=(2048, 64), codec="zstd",
                  seed=1337, act="relu2", rope_dims=0, base=20452, xsa=None, ve=None),
    "pr295": dict(layers=10, mlp=3.0, seq=2048, batch=786_432, lr=(0.02, 0.02, 0.03), wd=(0.04, 0.01),
                  warmdown=3000, wall=600.0, iters=20000, bigram=(10240, 128), eval=(2048, 64), codec="zstd",
                  seed=42, act="relu2", rope_dims=0, base=10000, xsa=None, ve=None),
    "pr443": dict(layers=10, mlp=3.0, seq=2048, batch=786_432, lr=(0.02, 0.02, 0.03), wd=(0.04, 0.04),
                  warmdown=3000, wall=600.0, iters=20000, bigram=(10240, 128), eval=(2048, 64), codec="zstd",
                  seed=42, act="relu2", rope_dims=0, base=10000, xsa=None, ve=None),
    "pr601": dict(layers=11, mlp=3.0, seq=1024, batch=524_288, lr=(0.025, 0.025, 0.035), wd=(0.04, 0.04),
                  warmdown=3500, wall=0.0, iters=9500, bigram=(1024, 128), eval=(1024, 128), codec="zstd",
                  seed=1337, act="relu2", rope_dims=16, base=10000, xsa=(7, 8, 9, 10), ve=None),
    "pr1473": dict(layers=11, mlp=3.0, seq=2048, batch=786_432, lr=(0.025, 0.025, 0.035), wd=(0.04, 0.04),
                   warmdown=4000, wall=600.0, iters=20000, bigram=(3072, 112), eval=(2048, 64), codec="lzma",
                   seed=1337, act="leaky_relu2", rope_dims=16, base=22082, xsa=tuple(range(11)), ve=(9, 10)),
}


@pytest.mark.parametrize("name", SEEDS)
def test_recipe_reproduces_the_submitted_run(name):
    from pgolf.model.layersets import parse_layers

    c, s = validate(get_recipe(name).build()), SPEC[name]
    m, o, t = c.model, c.optim, c.train
    assert (m.num_layers, m.mlp_mult, m.mlp_activation, m.rope_dims) == (s["layers"], s["mlp"], s["act"],
                                                                          s["rope_dims"])
    assert (m.model_dim, m.num_heads, m.num_kv_heads, m.vocab_size, m.logit_softcap, m.qk_gain_init) == (
        512, 8, 4, 1024, 30.0, 1.5)
    assert round(m.rope_base) == s["base"]
    assert (t.seq_len, t.batch_tokens, t.iterations, t.max_wallclock_seconds, t.seed, t.warmup_steps) == (
        s["seq"], s["batch"], s["iters"], s["wall"], s["seed"], 20)
    assert (o.matrix_lr, o.scalar_lr, o.tied_embed_lr) == s["lr"] and (o.muon_wd, o.adam_wd) == s["wd"]
    assert (o.muon_momentum, o.muon_momentum_warmup_start, o.muon_momentum_warmup_steps) == (0.99, 0.92, 1500)
    assert o.grad_clip_norm == 0.3 and o.muon_ns_steps == 5 and c.schedule.warmdown_iters == s["warmdown"]
    assert (m.bigram_hash.buckets, m.bigram_hash.dim, m.bigram_hash.scale_init) == (*s["bigram"], 0.05)
    assert m.smear_gate is not None and m.unet_skips and m.tie_embeddings
    assert ((c.eval.seq_len or t.seq_len), c.eval.stride) == s["eval"] and c.artifact.codec == s["codec"]
    assert (parse_layers(m.xsa.layers, m.num_layers) if m.xsa else None) == s["xsa"]
    assert (parse_layers(m.value_embed.layers, m.num_layers) if m.value_embed else None) == s["ve"]
    assert (m.backout is not None, m.init.resid_mix == "depth_ramp", m.init.spectral_embed is not None) == (
        (True, True, True) if name == "pr295" else (False, False, False))
    assert (m.value_residual is not None, m.attn_gate is not None, m.ln_scale) == (
        (True, True, True) if name == "pr601" else (False, False, name == "pr1473"))
    assert not (m.bigram_hash.reset_at_bos or m.smear_gate.reset_at_bos)  # the seeds leak across BOS


@pytest.mark.parametrize("name", SEEDS)
def test_recipe_metadata_and_parent(name):
    r = REGISTRY[name]
    assert r.parent in REGISTRY and r.author and re.search(rf"PR #{name[2:]} @[0-9a-f]{{8}}", r.source)
    for key in ("val_bpb", "artifact_bytes", "seeds", "params", "steps"):
        assert key in r.reported, key
    assert r.reported["params"] == PARAMS[name] and r.reported["pr"] == int(name[2:])
    assert get_recipe(r.parent).build() != r.build()


@pytest.mark.parametrize("name", SEEDS)
def test_tiny_keeps_every_technique_valid(name):
    full = get_recipe(name).build()
    small = validate(tiny(full))
    for block in ("bigram_hash", "smear_gate", "value_embed", "backout", "xsa", "value_residual", "attn_gate"):
        assert (getattr(full.model, block) is None) == (getattr(small.model, block) is None), block
    assert small.model.num_layers == 4 and small.model.ln_scale == full.model.ln_scale
    if full.model.value_embed is not None:
        assert small.model.value_embed.layers == "2,3"  # "9,10" of 11 = the last two
    if full.model.rope_dims:
        assert small.model.rope_dims == 8  # 16 of 64 head dims → 8 of 32
    with torch.device("meta"):
        GPT(small.model)  # builds: layer sets, rope dims and projections are consistent at 4 layers


def _targets(cfg):
    with torch.device("meta"):
        model = GPT(cfg.model)
    return {re.sub(r"blocks\.\d+\.", "blocks.*.", n): g != 1.0
            for n, _, g in ortho_targets(model, cfg.model.init.ortho, cfg.model.num_layers)}


@pytest.mark.parametrize("name", SEEDS)
def test_tiny_orthoinit_targets_the_same_matrices_as_full_size(name):
    full = get_recipe(name).build()
    assert _targets(full) == _targets(tiny(full))


def test_recipe_configs_round_trip_through_dicts():
    from pgolf.config import Config, from_dict

    for name in SEEDS:
        cfg = get_recipe(name).build()
        assert from_dict(Config, to_dict(cfg)) == cfg
