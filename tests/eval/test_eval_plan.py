"""Window plans: every target scored once, the document rule against its written definition, causality."""

from __future__ import annotations

import numpy as np
import pytest
from _evalkit import BOS, _threads, stream  # noqa: F401 (_threads: autouse)

from pgolf.eval.plan import doc_plan, doc_spans, lora_chunk_plan, sliding_plan, stream_plan, windows


def contexts(plan, n_targets: int) -> np.ndarray:
    """ctx[j] = start of the window that scores target j; asserts each target is scored exactly once."""
    ctx = np.full(n_targets + 1, -1)
    for w in plan:
        assert 0 <= w.first < w.length
        for j in range(w.lo, w.hi + 1):
            assert ctx[j] == -1, f"target {j} scored twice"
            ctx[j] = w.start
    assert (ctx[1:] >= 0).all(), "a target was never scored"
    return ctx


def reference_doc_context(tokens: np.ndarray, j: int, T: int, s: int) -> int:
    """The docstring's rule, written directly: the document of target j starts at the last BOS ≤ j−1 (or 0)."""
    d = max([0] + [p for p in range(1, j) if tokens[p] == 1])
    r = j - d
    return d if r <= T else d + -(-(r - T) // s) * s


@pytest.mark.parametrize("N,T,s", [(1024, 256, 64), (1000, 100, 30), (64, 64, 16), (300, 32, 7), (96, 32, 32)])
def test_stream_plan_scores_every_target_once(N, T, s):
    plan = stream_plan(N, T, s)
    contexts(plan, N)
    assert all(w.length == T and w.start + T <= N for w in plan)
    assert all(j - c <= T for j, c in enumerate(contexts(plan, N)) if j)


@pytest.mark.parametrize("T,s", [(32, 8), (32, 12), (16, 16), (64, 5)])
def test_doc_plan_matches_its_definition(T, s):
    tokens = stream(401, seed=3, docs=9)
    tokens[200:204] = 1  # empty documents and a run of BOS
    plan = doc_plan(tokens, T, s, BOS)
    ctx = contexts(plan, 400)
    for j in range(1, 401):
        assert ctx[j] == reference_doc_context(tokens, j, T, s), j
    for w in plan:
        assert w.length <= T
        assert not (tokens[w.start + 1 : w.start + w.length] == 1).any(), "a window's inputs cross a BOS"


def test_doc_plan_is_causal_in_the_next_bos():
    """Where the next BOS falls (or any later token) never changes how earlier targets are windowed."""
    T, s = 32, 8
    base = stream(300, seed=5, docs=3)
    ref = contexts(doc_plan(base, T, s, BOS), 299)
    rng = np.random.default_rng(0)
    for cut in (40, 77, 150, 251):
        t = base.copy()
        t[cut + 1 :] = rng.integers(1, 6, t.size - cut - 1)  # many BOS after the cut
        assert (contexts(doc_plan(t, T, s, BOS), 299)[: cut + 1] == ref[: cut + 1]).all()


@pytest.mark.parametrize("n,T,C", [(1, 16, 4), (37, 16, 4), (100, 32, 8), (64, 64, 64), (50, 24, 8)])
def test_lora_chunks_equal_doc_windows_when_chunk_divides_T(n, T, C):
    tokens = np.full(n + 1, 5, np.uint16)
    tokens[0] = 1
    chunks = lora_chunk_plan(0, n, T, C)
    assert all(w.hi - w.lo + 1 <= C and w.length <= T for w in chunks)
    assert (contexts(chunks, n) == contexts(doc_plan(tokens, T, C, BOS), n)).all()


def test_sliding_plan_modes_and_doc_spans():
    tokens = stream(257, seed=1, docs=4)
    assert sliding_plan(tokens, 64, 0, False) == stream_plan(256, 64, 64)
    assert sliding_plan(tokens, 64, 16, True, BOS) == doc_plan(tokens, 64, 16, BOS)
    spans = doc_spans(tokens, BOS)
    assert spans[0][0] == 0 and sum(n for _, n in spans) == 256
    assert [d for d, _ in spans[1:]] == [int(p) for p in np.flatnonzero(tokens[1:-1] == 1) + 1]


@pytest.mark.parametrize("N,T,s", [(1024, 256, 64), (1000, 100, 30), (64, 64, 16), (300, 32, 7)])
def test_windows_score_every_target_once(N, T, s):
    hits = np.zeros(N + 1, int)
    for a, first in windows(N, T, s):
        assert 0 <= a and a + T <= N
        hits[a + 1 + first : a + T + 1] += 1
    assert hits[0] == 0 and (hits[1:] == 1).all()
