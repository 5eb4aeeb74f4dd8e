"""Every seed's routing table reproduces that seed's optimizer groups on a model with its parameter names and shapes.

The expected groups are computed by a transcription of each seed's own optimizer-setup code (train_gpt.py of
#198/#295/#443/#601/#1473: block matrices not matching a control pattern → Muon, block vectors and controls → scalar,
then the explicit appends), applied to synthetic nn.Modules built here with the seeds' names.
"""

from __future__ import annotations

import typing

import pytest
import torch
from torch import nn

from pgolf.config import Config, OptimConfig, override
from pgolf.model.gpt import GPT
from pgolf.optim.muon import Muon
from pgolf.optim.routing import (
    BASE_CONTROLS,
    TABLES,
    baseline_rules,
    build_optimizers,
    describe_groups,
    route,
)

SEED_CONTROLS = {
    "baseline": BASE_CONTROLS,
    "pr198": BASE_CONTROLS + ("smear",),
    "pr295": BASE_CONTROLS + ("smear", "backout_lambda", "bigram.scale"),
    "pr443": BASE_CONTROLS + ("smear", "bigram.scale"),
    "pr601": BASE_CONTROLS + ("smear", "bigram.scale"),
    "pr1473": BASE_CONTROLS + ("smear", "ve_layer_scales", "ve_shared.scale"),
}
L, D, H, KV, V, MLP = 3, 32, 4, 2, 64, 96


def P(*shape):
    return nn.Parameter(torch.zeros(shape))


def _mod(**params):
    m = nn.Module()
    for k, v in params.items():
        setattr(m, k, v)
    return m


def seed_model(seed: str, tied: bool = True, banked: bool | None = None) -> nn.Module:
    banked = seed == "pr1473" if banked is None else banked
    kvd = KV * (D // H)
    m = nn.Module()
    m.tok_emb = nn.Embedding(V, D)
    if not tied:
        m.lm_head = nn.Linear(D, V, bias=False)
    m.skip_weights = P(L // 2, D)
    blocks = []
    for _ in range(L):
        b = _mod(attn_scale=P(D), mlp_scale=P(D), resid_mix=P(2, D))
        b.attn = _mod(q_gain=P(H))
        b.mlp = nn.Module()
        if not banked:
            b.attn.c_q, b.attn.c_k = nn.Linear(D, D, bias=False), nn.Linear(D, kvd, bias=False)
            b.attn.c_v, b.attn.proj = nn.Linear(D, kvd, bias=False), nn.Linear(D, D, bias=False)
            b.mlp.fc, b.mlp.proj = nn.Linear(D, MLP, bias=False), nn.Linear(MLP, D, bias=False)
        if seed == "pr601":
            b.attn.attn_gate = nn.Linear(D, H, bias=True)
            b.attn.vr_lambda = P(2)
        blocks.append(b)
    m.blocks = nn.ModuleList(blocks)
    if seed != "baseline":
        m.smear = _mod(gate=P(D))
        m.bigram = _mod(embed=nn.Embedding(40, 8), proj=nn.Linear(8, D, bias=False), scale=P())
    if seed == "pr295":
        m.backout_lambda = P(1)
    if banked:
        m.qo_bank, m.kv_bank = P(2 * L, D, D), P(2 * L, kvd, D)
        m.mlp_up_bank, m.mlp_down_bank = P(L, MLP, D), P(L, D, MLP)
    if seed == "pr1473":
        m.ve_shared = _mod(embed=nn.Embedding(V, 16), proj=nn.Linear(16, kvd, bias=False), scale=P())
        m.ve_layer_scales = nn.ParameterList([P(1), P(1)])
    return m


def seeds_own_groups(model: nn.Module, seed: str) -> dict[str, set[str]]:
    """What the seed's train_gpt.py builds (transcribed), by parameter name."""
    ctrl = SEED_CONTROLS[seed]
    blk = [(f"blocks.{n}", p) for n, p in model.blocks.named_parameters()]
    names = dict(model.named_parameters())
    g = {"muon": {n for n, p in blk if p.ndim == 2 and not any(c in n for c in ctrl)},
         "scalar": {n for n, p in blk if p.ndim < 2 or any(c in n for c in ctrl)} | {"skip_weights"},
         "tok": {"tok_emb.weight"}, "head": {"lm_head.weight"} & set(names)}
    if seed != "baseline":
        g["scalar"] |= {"smear.gate", "bigram.scale"}
        g["tok"].add("bigram.embed.weight")
        g["scalar" if seed == "pr1473" else "muon"].add("bigram.proj.weight")
    if seed == "pr295":
        g["scalar"].add("backout_lambda")
    if seed == "pr1473":
        g["tok"].add("ve_shared.embed.weight")
        g["scalar"] |= {"ve_shared.proj.weight", "ve_shared.scale", "ve_layer_scales.0", "ve_layer_scales.1"}
    g["muon"] |= {n for n in names if n.endswith("_bank")}
    return {k: v for k, v in g.items() if v}


@pytest.mark.parametrize("seed", list(TABLES))
@pytest.mark.parametrize("tied", [True, False])
def test_table_reproduces_the_seeds_groups(seed, tied):
    model = seed_model(seed, tied)
    got = {k: {n for n, _ in v} for k, v in route(model, TABLES[seed]()).items()}
    assert got == seeds_own_groups(model, seed)
    assert sum(map(len, got.values())) == len(list(model.parameters()))


def test_1473_table_routes_unbanked_block_matrices_to_muon():
    """pgolf's trunk keeps per-layer matrices; #1473's table sends them where its banks went."""
    model = seed_model("pr1473", banked=False)
    got = {k: {n for n, _ in v} for k, v in route(model, TABLES["pr1473"]()).items()}
    assert "blocks.0.attn.c_q.weight" in got["muon"] and "bigram.proj.weight" in got["scalar"]
    assert not any(n.endswith("_bank") for n in got["muon"])


def test_unmatched_parameter_is_named():
    model = seed_model("baseline")
    model.mystery = P(4, 4)
    with pytest.raises(AssertionError, match=r"mystery \(4, 4\) matches no routing rule"):
        route(model, TABLES["baseline"]())


def test_table_names_match_the_config_choices():
    choices = typing.get_args(typing.get_type_hints(OptimConfig)["routing"])
    assert set(choices) == set(TABLES)


@pytest.mark.parametrize("seed,head_wd", [("pr198", 0.0), ("pr601", 0.04), ("pr1473", 0.0)])
def test_groups_carry_the_seeds_hyperparameters(seed, head_wd):
    cfg = override(Config(), {"optim.routing": seed, "optim.matrix_lr": 0.025, "optim.scalar_lr": 0.025,
                              "optim.tied_embed_lr": 0.035, "optim.adam_wd": 0.04, "optim.muon_wd": 0.04,
                              "model.tie_embeddings": False})
    model = seed_model(seed, tied=False)
    opts, groups = build_optimizers(model, cfg.optim, cfg.model.tie_embeddings)
    by = {o.pgolf_group: o for o in opts}
    assert isinstance(by["muon"], Muon) and by["muon"].param_groups[0]["weight_decay"] == 0.04
    assert type(by["scalar"]) is torch.optim.AdamW and by["scalar"].param_groups[0]["lr"] == 0.025
    assert by["tok"].param_groups[0]["weight_decay"] == 0.04
    assert by["tok"].param_groups[0]["lr"] == cfg.optim.embed_lr  # untied: the embed LR
    head = by["head"]
    assert (type(head) is torch.optim.AdamW and head.param_groups[0]["weight_decay"] == head_wd) if head_wd \
        else type(head) is torch.optim.Adam
    lines = describe_groups(groups, cfg.optim, cfg.model.tie_embeddings)
    assert lines[0] == f"routing table {seed} (first match wins):" and any(s.startswith("  group muon: muon lr 0.025") for s in lines)


def test_every_table_covers_the_pgolf_trunk():
    from pgolf.model.gpt import GPT

    for tied in (True, False):
        cfg = override(Config(), {"model.tie_embeddings": tied, "model.num_layers": 3, "model.model_dim": 64})
        with torch.device("meta"):
            model = GPT(cfg.model)
        for name, rules in TABLES.items():
            groups = route(model, rules())
            assert {n for n, _ in groups["muon"]} == {n for n, p in model.named_parameters()
                                                      if n.startswith("blocks.") and p.ndim == 2
                                                      and "resid_mix" not in n}, name


@pytest.mark.parametrize("seed", list(TABLES))
def test_recipe_models_route_as_the_seeds_did(seed):
    """The pgolf model of each recipe at full size (meta device), routed by the table the recipe names, gives the
    groups the seed's own setup code would build from the same parameter names."""
    from pgolf.model.gpt import GPT
    from pgolf.recipes import get_recipe

    cfg = get_recipe(seed).build()
    assert cfg.optim.routing == seed
    with torch.device("meta"):
        model = GPT(cfg.model)
    got = {k: {n for n, _ in v} for k, v in route(model, TABLES[cfg.optim.routing]()).items()}
    assert got == seeds_own_groups(model, seed)


def test_routing_covers_every_parameter_once():
    cfg = override(Config(), {"model.tie_embeddings": False})
    with torch.device("meta"):
        model = GPT(cfg.model)
    groups = route(model, baseline_rules())
    names = [n for items in groups.values() for n, _ in items]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())
    assert {n for n, _ in groups["muon"]} == {n for n, p in model.named_parameters()
                                              if n.startswith("blocks.") and p.ndim == 2 and "resid_mix" not in n}
    assert [n for n, _ in groups["head"]] == ["lm_head.weight"]
    assert "skip_weights" in [n for n, _ in groups["scalar"]]
