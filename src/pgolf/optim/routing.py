"""Parameter routing: a table of rules → optimizer groups; first match wins; every parameter lands exactly once.

The baseline's split (SPEC_SEEDS.md §1.4): tok_emb → Adam at the tied-embedding LR (or embed_lr untied); an untied
lm_head → Adam at head_lr; names matching a control pattern and every tensor with < 2 dims → scalar Adam; remaining
2-D block matrices → Muon. The table is printed at the start of a run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pgolf.config import Config
from pgolf.optim.muon import Muon


@dataclass(frozen=True)
class Rule:
    group: str
    pattern: str  # regex searched in the parameter name
    when: Callable[[torch.Tensor], bool] = lambda p: True
    note: str = ""

    def matches(self, name: str, p: torch.Tensor) -> bool:
        return re.search(self.pattern, name) is not None and self.when(p)


def baseline_rules(cfg: Config) -> list[Rule]:
    controls = "|".join(re.escape(c) for c in cfg.quant.control_patterns)
    return [
        Rule("tok", r"^tok_emb\.weight$", note="token embedding"),
        Rule("head", r"^lm_head\.weight$", note="untied head"),
        Rule("tok", r"^(bigram|ve_shared)\.embed\.weight$", note="BigramHash / value-embedding tables"),
        Rule("muon", r"^bigram\.proj\.weight$", lambda p: p.ndim == 2, note="BigramHash projection (#198–#601)"),
        Rule("scalar", r"^ve_shared\.proj\.weight$", note="value-embedding projection (#1473)"),
        Rule("scalar", controls, note="control tensors"),
        Rule("scalar", r".", lambda p: p.ndim < 2, note="vectors and scalars"),
        Rule("muon", r"^blocks\.", lambda p: p.ndim == 2, note="block matrices"),
    ]


def route(model: nn.Module, rules: list[Rule]) -> dict[str, list[tuple[str, nn.Parameter]]]:
    groups: dict[str, list[tuple[str, nn.Parameter]]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        rule = next((r for r in rules if r.matches(name, p)), None)
        if rule is None:
            raise AssertionError(f"parameter {name} {tuple(p.shape)} matches no routing rule")
        groups.setdefault(rule.group, []).append((name, p))
    n_routed = sum(len(v) for v in groups.values())
    n_params = sum(1 for _, p in model.named_parameters() if p.requires_grad)
    assert n_routed == n_params, "a parameter was routed twice or not at all"
    return groups


def build_optimizers(model: nn.Module, cfg: Config, fused: bool = False) -> tuple[list[torch.optim.Optimizer], dict]:
    """→ (optimizers, groups by name). Each param group carries `base_lr` for the schedule."""
    o = cfg.optim
    groups = route(model, baseline_rules(cfg))
    lrs = {"tok": o.tied_embed_lr if cfg.model.tie_embeddings else o.embed_lr, "head": o.head_lr,
           "scalar": o.scalar_lr, "muon": o.matrix_lr}
    opts: list[torch.optim.Optimizer] = []
    for gname in ("tok", "head", "scalar"):
        if gname in groups:
            params = [p for _, p in groups[gname]]
            adam_cls = torch.optim.AdamW if o.adam_wd > 0 else torch.optim.Adam
            kw = {"weight_decay": o.adam_wd} if o.adam_wd > 0 else {}
            opt = adam_cls([{"params": params, "lr": lrs[gname], "base_lr": lrs[gname]}], betas=o.adam_betas,
                           eps=o.adam_eps, fused=fused, **kw)
            opt.pgolf_group = gname
            opts.append(opt)
    if "muon" in groups:
        opt = Muon([p for _, p in groups["muon"]], lr=o.matrix_lr, momentum=o.muon_momentum,
                   ns_steps=o.muon_ns_steps, weight_decay=o.muon_wd)
        for g in opt.param_groups:
            g["base_lr"] = o.matrix_lr
        opt.pgolf_group = "muon"
        opts.append(opt)
    return opts, groups


def describe_groups(groups: dict, cfg: Config) -> list[str]:
    lines = []
    for gname, items in groups.items():
        n = sum(p.numel() for _, p in items)
        names = ", ".join(nm for nm, _ in items[:3]) + (" …" if len(items) > 3 else "")
        lines.append(f"  {gname:<7} {len(items):>3} tensors {n:>11,} params  [{names}]")
    return lines
