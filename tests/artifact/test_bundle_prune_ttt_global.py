"""The bundle keeps what the phased TTT's isolated global phase runs (pgolf.eval.ttt_global: cu_seqlens from
pgolf.data.packed, attention through pgolf.model.features.varlen) even where training uses neither."""

from __future__ import annotations

from dataclasses import replace

from pgolf.artifact.bundle_prune import pruned_modules
from pgolf.eval.ttt_phased import pr1855_ttt
from pgolf.recipes import get_recipe

NEEDS = {"pgolf.data.packed", "pgolf.model.features.varlen"}


def test_an_isolated_global_phase_keeps_packed_and_varlen_without_the_packed_loader():
    base = get_recipe("pr1473").build()
    assert base.data.loader != "packed" and base.model.varlen is None
    assert NEEDS <= set(pruned_modules(base))
    t = pr1855_ttt()
    iso = replace(base, eval=replace(base.eval, ttt=t))
    assert not NEEDS & set(pruned_modules(iso))
    rows = replace(base, eval=replace(base.eval, ttt=replace(t, phased=replace(t.phased, isolate_docs=False))))
    assert NEEDS <= set(pruned_modules(rows))
