"""Batch planning: every window in one batch row, padding bounded and counted, scores independent of the plan, and
every evaluation path (standard, sliding, doc-aware, full TTT, LoRA TTT) reports its padded fraction and tokens/s."""

from __future__ import annotations

import pytest
import torch
from _evalkit import BOS, _threads, lut, stream, tiny_model  # noqa: F401 (_threads: autouse)

from pgolf.config import LoRATTTConfig, TTTConfig
from pgolf.eval.batches import BatchStats, row_buckets, speed_line, split_rows
from pgolf.eval.plan import sliding_plan
from pgolf.eval.run import evaluate, evaluate_ttt
from pgolf.eval.scorer import WindowScorer, bucket_length
from pgolf.eval.sliding import eval_plan
from pgolf.eval.standard import trim_val
from pgolf.runtime.dist import init_runtime

RT = init_runtime("cpu")


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 8, 32, 100, 512])
@pytest.mark.parametrize("fixed", [True, False])
def test_split_rows_places_every_window_once_with_bounded_padding(rows, fixed):
    allowed = set(row_buckets(rows))
    assert max(allowed) == rows and min(allowed) == -(-rows // 8)
    for n in range(0, 3 * rows + 2):
        parts = split_rows(n, rows, fixed)
        assert sum(c for c, _ in parts) == n and all(0 < c <= b <= rows for c, b in parts)
        pad = sum(b - c for c, b in parts)
        if fixed:
            assert {b for _, b in parts} <= allowed
            assert pad < min(allowed)  # at most one partly empty batch, of the smallest bucket
        else:
            assert pad == 0


def test_a_tail_no_longer_costs_a_full_batch():
    """A tail of 3 windows at 512 rows ran as one 512-row batch (509 empty rows); now as one 64-row batch."""
    assert split_rows(509, 512, True) == [(256, 256), (128, 128), (64, 64), (61, 64)]
    assert split_rows(3, 512, True) == [(3, 64)]
    assert split_rows(1027, 512, True) == [(512, 512), (512, 512), (3, 64)]


def test_scorer_plan_counts_real_and_computed_positions():
    model = tiny_model()
    T = 32
    tokens = trim_val(stream(900, seed=3, docs=20), T)
    plan = sliding_plan(tokens, T, 8, True, BOS)
    sc = WindowScorer(model, T, 8 * T, RT.device)
    batches = sc.plan(plan)
    assert sorted(i for _, _, part in batches for i in part) == list(range(len(plan)))
    for rows, L, part in batches:  # eager: exact rows, the longest window of the batch, inside one bucket
        assert rows == len(part) and L == max(plan[i].length for i in part)
        assert len({bucket_length(plan[i].length, T) for i in part}) == 1
    r = eval_plan(model, tokens, plan, T, lut(), RT, 8 * T, scorer=sc)[0]
    s = r.speed
    assert s["real_positions"] == sum(w.length for w in plan) and s["scored_targets"] == r.scored_tokens
    assert s["computed_positions"] == sum(rows * L for rows, L, _ in batches)
    assert s["batches"] == len(batches) and s["padded_fraction"] == pytest.approx(
        1 - s["real_positions"] / s["computed_positions"])
    assert "tokens/s" in speed_line(s) and "padded" in speed_line(s)


def test_fixed_shape_plan_scores_what_one_window_per_batch_scores():
    """The compiled planner (aot_eager: Dynamo without a C++ toolchain) on a doc-aware plan with ragged tails gives
    every window the NLL it gets alone in a batch of one, and computes far less padding than full-row batches."""
    model = tiny_model(seed=1)
    T = 32
    tokens = trim_val(stream(700, seed=5, docs=12), T)
    plan = sliding_plan(tokens, T, 8, True, BOS)
    ref, kept_ref = eval_plan(model, tokens, plan, T, lut(), RT, batch_tokens=T, keep=True)
    sc = WindowScorer(model, T, 48 * T, RT.device, compile=True, backend="aot_eager")
    sc.warmup(sc.shapes(plan), 64)
    r, kept = eval_plan(model, tokens, plan, T, lut(), RT, 48 * T, scorer=sc, keep=True)
    assert (r.scored_tokens, r.scored_bytes) == (ref.scored_tokens, ref.scored_bytes)
    assert r.val_bpb == pytest.approx(ref.val_bpb, rel=1e-6)
    assert all(torch.allclose(a, b, rtol=0, atol=2e-6) for a, b in zip(kept, kept_ref))
    full_rows = BatchStats()  # the former rule: every batch of a bucket at the full row count
    for L in {bucket_length(w.length, T) for w in plan}:
        ws = [w for w in plan if bucket_length(w.length, T) == L]
        rows = max(1, 48 * T // L)
        for b in range(0, len(ws), rows):
            full_rows.add(rows, L, sum(w.length for w in ws[b : b + rows]), 0)
    assert r.speed["computed_positions"] < full_rows.computed
    assert r.speed["padded_fraction"] < full_rows.padded_fraction


def test_every_path_reports_speed():
    model = tiny_model(seed=2)
    T = 32
    tokens = trim_val(stream(600, seed=7, docs=8), T)
    runs = [evaluate(model, tokens, T, 0, 4 * T, lut(), RT), evaluate(model, tokens, T, 8, 4 * T, lut(), RT),
            evaluate(model, tokens, T, 8, 4 * T, lut(), RT, doc_aware=True),
            evaluate_ttt(model, tokens, T, 8, 4 * T, lut(), RT, TTTConfig(chunk_tokens=128, epochs=1, lr=0.01,
                                                                           batch_seqs=2)).result,
            evaluate_ttt(model, tokens, T, 8, 4 * T, lut(), RT, TTTConfig(
                chunk_tokens=8, epochs=1, optimizer="adam", lr=0.01, lora=LoRATTTConfig(rank=2, batch_docs=3))).result]
    for r in runs:
        assert r.speed["scored_targets"] == r.scored_tokens == tokens.size - 1
        assert 0.0 <= r.speed["padded_fraction"] < 1.0 and r.speed["tokens_per_s"] > 0
    assert runs[0].speed["padded_fraction"] == 0.0  # standard windows fill every row
