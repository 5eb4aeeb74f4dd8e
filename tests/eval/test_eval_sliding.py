"""Sliding and document-aware evaluation against per-token brute force; standard ≡ stride T; batching and
compile do not change results."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _evalkit import (  # noqa: F401 (_threads: autouse; brute_setup: fixture `setup`)
    BOS,
    _threads,
    brute_setup,
    lut,
    stream,
    tables,
    tiny_model,
    window_brute,
)
from test_eval_plan import reference_doc_context

from pgolf.eval.plan import sliding_plan
from pgolf.eval.run import evaluate
from pgolf.eval.scorer import WindowScorer
from pgolf.eval.sliding import eval_plan, eval_sliding
from pgolf.eval.standard import eval_standard, trim_val
from pgolf.runtime.dist import init_runtime

RT = init_runtime("cpu")


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def brute(model, tokens, context_start) -> tuple[float, float, int, int]:
    """One forward per target j on tokens[context_start(j) : j]; float64 sums; bytes from the raw tables."""
    base, space, boundary = tables()
    N = tokens.size - 1
    nll = nbytes = 0.0
    with torch.no_grad():
        for j in range(1, N + 1):
            a = context_start(j)
            assert 0 <= a < j and j - a <= 64
            z = model.logits(torch.from_numpy(tokens[a:j].astype(np.int64))[None])[0, -1].double()
            nll -= torch.log_softmax(z, -1)[int(tokens[j])].item()
            nbytes += int(base[tokens[j]]) + int(space[tokens[j]] and not boundary[tokens[j - 1]])
    return nll / N, nll / (math.log(2) * nbytes), N, int(nbytes)


def check(r, ref):
    loss, bpb, n, b = ref
    assert r.scored_tokens == n and r.scored_bytes == b
    assert r.val_loss == pytest.approx(loss, rel=1e-6) and r.val_bpb == pytest.approx(bpb, rel=1e-6)


@pytest.mark.parametrize("T,s", [(32, 8), (32, 12), (24, 24)])
def test_doc_aware_sliding_equals_per_token_brute_force(model, T, s):
    tokens = trim_val(stream(400, seed=2, docs=7), T)
    r = eval_sliding(model, tokens, T, s, 3, lut(), RT, doc_aware=True)
    check(r, brute(model, tokens, lambda j: reference_doc_context(tokens, j, T, s)))


def test_stream_sliding_equals_per_token_brute_force(model):
    T, s = 32, 12
    tokens = trim_val(stream(400, seed=4), T)
    N = tokens.size - 1

    def ctx(j):  # window 0 for j ≤ T, else the first stride window covering j, or the tail window at N − T
        return 0 if j <= T else min(-(-(j - T) // s) * s, N - T)

    check(eval_sliding(model, tokens, T, s, 4, lut(), RT), brute(model, tokens, ctx))


def test_stride_T_equals_standard_and_bytes_agree_across_modes(model):
    T = 32
    tokens = trim_val(stream(1000, seed=6, docs=12), T)
    std = eval_standard(model, tokens, T, 96, lut(), RT)
    same = eval_sliding(model, tokens, T, T, 3, lut(), RT)
    assert (same.scored_tokens, same.scored_bytes) == (std.scored_tokens, std.scored_bytes)
    assert same.val_loss == pytest.approx(std.val_loss, rel=1e-7)
    for s, doc in [(8, False), (8, True), (32, True), (5, True)]:
        r = evaluate(model, tokens, T, s, 256, lut(), RT, doc_aware=doc)
        assert (r.scored_tokens, r.scored_bytes) == (std.scored_tokens, std.scored_bytes)
    assert evaluate(model, tokens, T, 8, 256, lut(), RT).val_loss != std.val_loss  # a different pass


def test_batch_size_and_padding_do_not_change_scores(model):
    T = 32
    tokens = trim_val(stream(700, seed=8, docs=15), T)
    plan = sliding_plan(tokens, T, 8, True, BOS)
    ref, kept_ref = eval_plan(model, tokens, plan, T, lut(), RT, batch_tokens=T, keep=True)
    for bt in (5 * T, 64 * T):
        r, kept = eval_plan(model, tokens, plan, T, lut(), RT, batch_tokens=bt, keep=True)
        assert (r.scored_tokens, r.scored_bytes) == (ref.scored_tokens, ref.scored_bytes)
        assert all(torch.allclose(a, b, rtol=0, atol=2e-6) for a, b in zip(kept, kept_ref))


def test_compiled_scoring_equals_eager(model):
    """torch.compile (aot_eager here: Dynamo tracing and guards without a C++ toolchain) computes the same."""
    T = 32
    tokens = trim_val(stream(500, seed=9, docs=6), T)
    plan = sliding_plan(tokens, T, 8, True, BOS)
    eager, ke = eval_plan(model, tokens, plan, T, lut(), RT, batch_tokens=4 * T, keep=True)
    scorer = WindowScorer(model, T, 4 * T, RT.device, compile=True, backend="aot_eager")
    assert scorer.warmup(scorer.shapes(plan), 64) > 0
    comp, kc = eval_plan(model, tokens, plan, T, lut(), RT, 4 * T, scorer=scorer, keep=True)
    assert (comp.scored_tokens, comp.scored_bytes) == (eager.scored_tokens, eager.scored_bytes)
    assert all(torch.allclose(a, b, rtol=0, atol=1e-5) for a, b in zip(kc, ke))


@pytest.mark.gpu
def test_compiled_cuda_scoring_matches_eager_cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rt = init_runtime("cuda")
    model = tiny_model().to(rt.device)
    T = 64
    tokens = trim_val(stream(4000, seed=1, docs=20), T)
    cl = lut(device="cuda")
    for doc in (False, True):
        a = evaluate(model, tokens, T, 16, 64 * T, cl, rt, doc_aware=doc, compile=False)
        b = evaluate(model, tokens, T, 16, 64 * T, cl, rt, doc_aware=doc, compile=True)
        assert (a.scored_tokens, a.scored_bytes) == (b.scored_tokens, b.scored_bytes)
        assert b.val_bpb == pytest.approx(a.val_bpb, rel=2e-3)  # bf16 autocast; fusion changes rounding only


def test_eval_length_above_training_length_with_an_explicit_rope_base():
    """set_rope_base(model, b) computes what a model built with base b computes (same weights), at any eval length;
    a long sliding eval then equals the per-token brute force of that model."""
    from pgolf.config import ModelConfig
    from pgolf.eval.sliding import rope_note, set_rope_base
    from pgolf.model.gpt import GPT

    model = tiny_model(seed=3)
    cfg = ModelConfig(num_layers=2, model_dim=32, num_heads=2, num_kv_heads=1, vocab_size=64, rope_base=20452.0)
    other = GPT(cfg).eval()
    other.load_state_dict(model.state_dict())
    x = torch.from_numpy(stream(129, seed=5)[:128].astype(np.int64))[None]
    with torch.no_grad():
        before = model.logits(x)
        assert set_rope_base(model, 20452.0) == 2 and model.cfg.rope_base == 20452.0
        assert not torch.allclose(before, model.logits(x), atol=1e-4)  # the base matters at this length
        assert torch.equal(model.logits(x), other.logits(x))
    assert "base 20452 set for this evaluation" in rope_note(model, 64, overridden=True)
    tokens = trim_val(stream(200, seed=6, docs=1), 64)
    check(eval_sliding(model, tokens, 64, 16, 2, lut(), RT), brute(other, tokens, lambda j: 0 if j <= 64 else
                                                                  min(-(-(j - 64) // 16) * 16, tokens.size - 1 - 64)))


@pytest.mark.parametrize("stride", [8, 12])
def test_sliding_eval_equals_brute_force(setup, stride):
    model, tokens, lut, tables = setup
    rt = init_runtime("cpu")
    val = trim_val(tokens[:301], 32)
    r = eval_sliding(model, val, 32, stride, 5, lut, rt)
    loss, bpb, n, b = window_brute(model, val, 32, stride, tables)
    assert r.scored_tokens == n and r.scored_bytes == b
    assert abs(r.val_loss - loss) < 1e-5 and abs(r.val_bpb - bpb) < 1e-5


def test_sliding_with_stride_T_equals_standard(setup):
    model, tokens, lut, _ = setup
    rt = init_runtime("cpu")
    val = trim_val(tokens, 32)
    a = eval_standard(model, val, 32, 64, lut, rt)
    b = eval_sliding(model, val, 32, 32, 3, lut, rt)
    assert a.scored_tokens == b.scored_tokens and a.scored_bytes == b.scored_bytes
    assert abs(a.val_loss - b.val_loss) < 1e-6
