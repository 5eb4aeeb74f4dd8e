"""Parameter routing: a table of name patterns → groups {optimizer, lr, betas, weight decay}; first match wins.

Every trainable parameter must match a rule (else an AssertionError names it) and lands in exactly one group; the
table and the resulting groups are printed at the start of a run. `optim.routing` picks the table.

The seeds' splits (SPEC_SEEDS.md §1.4, checked against each train_gpt.py):
  tok    (Adam(W), tied-embed LR): tok_emb, bigram.embed (#198 on), ve_shared.embed (#1473)
  head   (untied lm_head, head LR): Adam without WD in every seed but #601 (AdamW with the Adam WD)
  scalar (Adam(W), scalar LR): the seed's control patterns, every tensor with < 2 dims (gains, gates, λs, biases),
         and in #1473 also bigram.proj and ve_shared.proj
  muon   (Muon, matrix LR): 2-D block matrices (incl. #601's attn_gate.weight), bigram.proj (#198–#601),
         #1473's 3-D banks (*_bank), #198's dormant mtp_heads
Adam becomes AdamW whenever the group's weight decay is > 0 (the seeds' `ADAM_WD`/`WEIGHT_DECAY`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from pgolf.model.control import ROUTING_CONTROLS
from pgolf.optim.config import OptimConfig
from pgolf.optim.muon import Muon
from pgolf.optim.sharded import ShardedMuon

BASE_CONTROLS = ROUTING_CONTROLS  # pgolf.model.control: the seeds' names + parallel λs + the sparse attention gate


@dataclass(frozen=True)
class Rule:
    pattern: str  # regex searched in the parameter name
    group: str
    ndim: tuple[int, ...] = ()  # allowed tensor ranks; () = any
    note: str = ""

    def matches(self, name: str, p: torch.Tensor) -> bool:
        return (not self.ndim or p.ndim in self.ndim) and re.search(self.pattern, name) is not None


@dataclass(frozen=True)
class Group:
    optimizer: str  # "adam" | "adamw" | "muon"
    lr: float
    betas: tuple[float, float] = (0.9, 0.95)
    wd: float = 0.0


def _controls(patterns: tuple[str, ...], note: str = "control tensors") -> Rule:
    return Rule("|".join(re.escape(c) for c in patterns), "scalar", note=note)


def baseline_rules() -> list[Rule]:
    return [
        Rule(r"^tok_emb\.weight$", "tok", note="token embedding"),
        Rule(r"^lm_head\.weight$", "head", note="untied head"),
        _controls(BASE_CONTROLS),
        Rule(r".", "scalar", (0, 1), "vectors and scalars"),
        Rule(r"^blocks\.", "muon", (2,), "block matrices"),
    ]


def _seed_rules(controls: tuple[str, ...], bigram_proj: str = "muon") -> list[Rule]:
    return [
        Rule(r"^tok_emb\.weight$", "tok", note="token embedding"),
        Rule(r"^bigram\.embed\.weight$", "tok", note="BigramHash table"),
        Rule(r"^lm_head\.weight$", "head", note="untied head"),
        Rule(r"^bigram\.proj\.weight$", bigram_proj, (2,), "BigramHash projection"),
        _controls(BASE_CONTROLS + controls),
        Rule(r".", "scalar", (0, 1), "vectors and scalars"),
        Rule(r"^blocks\.", "muon", (2,), "block matrices"),
    ]


def pr198_rules() -> list[Rule]:
    return _seed_rules(("smear",)) + [Rule(r"^mtp_heads\.", "muon", (2,), "MTP heads (dormant)")]


def pr295_rules() -> list[Rule]:
    return _seed_rules(("smear", "backout_lambda", "bigram.scale"))


def pr443_rules() -> list[Rule]:
    return _seed_rules(("smear", "bigram.scale"))


def pr601_rules() -> list[Rule]:
    return _seed_rules(("smear", "bigram.scale")) + [Rule(r"^hc_alpha\.", "scalar", note="hyper-connections")]


def pr1473_rules() -> list[Rule]:
    rules = _seed_rules(("smear", "ve_layer_scales", "ve_shared.scale"), bigram_proj="scalar")
    return rules[:4] + [
        Rule(r"^ve_shared\.embed\.weight$", "tok", note="value-embedding table"),
        Rule(r"^ve_shared\.proj\.weight$", "scalar", (2,), "value-embedding projection"),
    ] + rules[4:] + [Rule(r"_bank$", "muon", (3,), "parameter banks")]


TABLES = {"baseline": baseline_rules, "pr198": pr198_rules, "pr295": pr295_rules, "pr443": pr443_rules,
          "pr601": pr601_rules, "pr1473": pr1473_rules}


def group_specs(o: OptimConfig, tie_embeddings: bool) -> dict[str, Group]:
    """{optimizer, lr, betas, wd} of each group for `o.routing` (the token embedding's LR depends on tying)."""

    def adam(lr: float, wd: float) -> Group:
        return Group("adamw" if wd > 0 else "adam", lr, o.adam_betas, wd)

    head_wd = o.adam_wd if o.routing in ("baseline", "pr601") else 0.0
    tok_lr = o.tied_embed_lr if tie_embeddings else o.embed_lr
    return {"tok": adam(tok_lr, o.adam_wd if o.embed_wd is None else o.embed_wd), "head": adam(o.head_lr, head_wd),
            "scalar": adam(o.scalar_lr, o.adam_wd), "muon": Group("muon", o.matrix_lr, (o.muon_momentum, 0.0), o.muon_wd)}


def route(model: nn.Module, rules: list[Rule]) -> dict[str, list[tuple[str, nn.Parameter]]]:
    groups: dict[str, list[tuple[str, nn.Parameter]]] = {}
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        rule = next((r for r in rules if r.matches(name, p)), None)
        if rule is None:
            raise AssertionError(f"parameter {name} {tuple(p.shape)} matches no routing rule")
        assert id(p) not in seen, f"parameter {name} routed twice"
        seen.add(id(p))
        groups.setdefault(rule.group, []).append((name, p))
    n_params = sum(1 for _, p in model.named_parameters() if p.requires_grad)
    assert len(seen) == n_params, "a parameter was routed twice or not at all"
    return groups


def build_optimizers(model: nn.Module, o: OptimConfig, tie_embeddings: bool, fused: bool = False,
                     sharded: bool = False) -> tuple[list[torch.optim.Optimizer], dict]:
    """→ (optimizers, groups by name). Each param group carries `base_lr`, `base_wd` and `pgolf_group`."""
    groups = route(model, TABLES[o.routing]())
    specs = group_specs(o, tie_embeddings)
    opts: list[torch.optim.Optimizer] = []
    for gname, items in groups.items():
        spec, params = specs[gname], [p for _, p in items]
        if spec.optimizer == "muon":
            cls = ShardedMuon if sharded else Muon
            opt = cls(params, lr=spec.lr, momentum=o.muon_momentum, ns_steps=o.muon_ns_steps,
                      nesterov=o.muon_nesterov, weight_decay=spec.wd, ns=o.muon_ns, row_norm=o.muon_row_norm)
        else:
            cls = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
            kw = {"weight_decay": spec.wd} if spec.optimizer == "adamw" else {}
            opt = cls([{"params": params, "lr": spec.lr}], betas=spec.betas, eps=o.adam_eps, fused=fused, **kw)
        for g in opt.param_groups:
            g.update(base_lr=spec.lr, base_wd=spec.wd, pgolf_group=gname)
        opt.pgolf_group = gname
        opts.append(opt)
    return opts, groups


def describe_groups(groups: dict, o: OptimConfig, tie_embeddings: bool) -> list[str]:
    """The routing table (first match wins) and the groups it produced, for the run log."""
    lines = [f"routing table {o.routing} (first match wins):"]
    for i, r in enumerate(TABLES[o.routing](), 1):
        dims = f" [ndim {'/'.join(map(str, r.ndim))}]" if r.ndim else ""
        lines.append(f"  {i}. {r.pattern}{dims} → {r.group} ({r.note})")
    specs = group_specs(o, tie_embeddings)
    for gname, items in groups.items():
        s = specs[gname]
        n = sum(p.numel() for _, p in items)
        hyper = f"μ {o.muon_momentum}" if s.optimizer == "muon" else f"β {s.betas}"
        names = ", ".join(nm for nm, _ in items[:3]) + (" …" if len(items) > 3 else "")
        lines.append(f"  group {gname}: {s.optimizer} lr {s.lr:g} {hyper} wd {s.wd:g} | {len(items)} tensors, "
                     f"{n:,} params [{names}]")
    return lines
