"""Score-first TTT: the order of the loop, the ledger, zero steps ≡ sliding eval, causality by perturbation,
weights restored, documents independent, compile-safe hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _evalkit import (  # noqa: F401 (_threads: autouse)
    BOS,
    TECH_FULL,
    TECH_LORA,
    VOCAB,
    _threads,
    lut,
    stream,
    technique_model,
    tiny_model,
)

from pgolf.config import LoRATTTConfig, TTTConfig
from pgolf.errors import PgolfError
from pgolf.eval.plan import stream_plan
from pgolf.eval.score_first import Ledger, LegalityError, Released, ScoredChunk, score_first
from pgolf.eval.sliding import eval_sliding
from pgolf.eval.standard import trim_val
from pgolf.eval.ttt import chunk_plan, eval_ttt_full
from pgolf.eval.ttt_lora import eval_ttt_lora
from pgolf.runtime.dist import init_runtime

RT = init_runtime("cpu")
T = 32
FULL = TTTConfig(chunk_tokens=64, epochs=2, lr=0.05, batch_seqs=2, lr_schedule="constant")
LORA = TTTConfig(chunk_tokens=8, epochs=2, optimizer="adam", lr=0.02, lora=LoRATTTConfig(rank=4, batch_docs=3))


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def by_target(chunks: list[ScoredChunk]) -> dict:
    """target j → (start of the window that scored it, its NLL), over every kept chunk."""
    out = {}
    for c in chunks:
        for w, nll in zip([w for w in c.windows if w.length], c.nll):
            for j, v in zip(range(w.lo, w.hi + 1), nll.tolist()):
                out[j] = (w.start, v)
    return out


def assert_prefix_unchanged(ref: dict, got: dict, cut: int) -> None:
    """Every target ≤ cut has the same window and a bitwise-equal NLL."""
    early = [j for j in ref if j <= cut]
    assert len(early) == cut
    bad = [j for j in early if got[j] != ref[j]]
    assert not bad, f"targets {bad[:5]}… changed although only tokens after {cut} were perturbed"


def test_score_first_runs_score_then_adapt_and_never_adapts_on_the_last_chunk():
    tokens = torch.arange(201)
    chunks = chunk_plan(stream_plan(200, 32, 8), 40)
    events, ledger = [], Ledger(200)

    def score(s, wins):
        events.append(("score", wins[0].lo))
        return []

    def adapt(rel: Released):
        lo, hi = rel.span()
        assert torch.equal(rel.tokens(lo, hi), tokens[lo - 1 : hi + 1])
        events.append(("adapt", lo))
        with pytest.raises(LegalityError):
            rel.tokens(lo, hi + 1)  # the first target of the next chunk has not been scored

    seen = [c.index for c in score_first(tokens, chunks, ledger, score, adapt)]
    assert seen == list(range(len(chunks)))
    starts = [c[0].lo for c in chunks]
    expect = [e for s in starts for e in (("score", s), ("adapt", s))][:-1]
    assert events == expect
    events.clear()
    gen = score_first(tokens, chunks, Ledger(200), score, adapt)
    next(gen)
    assert events == [("score", starts[0])]  # chunk 0 is scored and handed out before any update


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=1)


@pytest.mark.parametrize("doc_aware", [False, True])
def test_full_ttt_with_zero_epochs_equals_sliding_eval(model, doc_aware):
    tokens = trim_val(stream(700, seed=11, docs=8), T)
    ref = eval_sliding(model, tokens, T, 8, 4, lut(), RT, doc_aware=doc_aware)
    for zero in (TTTConfig(chunk_tokens=64, epochs=0), TTTConfig(chunk_tokens=100, lr=0.0, momentum=0.0)):
        r = eval_ttt_full(model, tokens, T, 8, doc_aware, zero, lut(), RT, 4 * T).result
        assert (r.scored_tokens, r.scored_bytes) == (ref.scored_tokens, ref.scored_bytes)
        assert r.val_loss == pytest.approx(ref.val_loss, rel=1e-7)


@pytest.mark.parametrize("doc_aware", [False, True])
def test_full_ttt_is_causal_and_restores_the_weights(model, doc_aware):
    tokens = trim_val(stream(700, seed=12, docs=6), T)
    before = snapshot(model)
    flags = [p.requires_grad for p in model.parameters()]
    base = eval_ttt_full(model, tokens, T, 8, doc_aware, FULL, lut(), RT, 4 * T, keep=True)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert flags == [p.requires_grad for p in model.parameters()] and all(p.grad is None for p in model.parameters())
    plain = eval_ttt_full(model, tokens, T, 8, doc_aware, TTTConfig(chunk_tokens=64, epochs=0), lut(), RT, 4 * T)
    assert base.result.val_loss != plain.result.val_loss and base.stats["steps"] > 0
    ref = by_target(base.chunks)
    rng = np.random.default_rng(0)
    his = [max(w.hi for w in c.windows) for c in base.chunks]
    for cut in (his[0], his[0] + 17, his[3] - 5, his[-2] + 30):  # chunk ends and points inside chunks
        t = tokens.copy()
        t[cut + 1 :] = rng.integers(1, 64, t.size - cut - 1)  # includes new BOS (id 1)
        got = by_target(eval_ttt_full(model, t, T, 8, doc_aware, FULL, lut(), RT, 4 * T, keep=True).chunks)
        assert_prefix_unchanged(ref, got, cut)


def test_full_ttt_learns_from_what_it_scored(model):
    """A stream that repeats one 96-token passage: after adapting on earlier copies, later copies score better."""
    rng = np.random.default_rng(3)
    tokens = trim_val(np.tile(rng.integers(2, 64, 96), 8).astype(np.uint16), T)
    t = TTTConfig(chunk_tokens=96, epochs=2, lr=0.2, batch_seqs=4, lr_schedule="constant", grad_clip=0.0)
    adapted = eval_ttt_full(model, tokens, 8 * T, 64, False, t, lut(), RT, 4 * T)
    plain = eval_sliding(model, tokens, 8 * T, 64, 4, lut(), RT)
    assert adapted.result.val_loss < plain.val_loss - 0.05


def test_lora_ttt_with_zero_epochs_equals_doc_aware_sliding_at_stride_chunk(model):
    tokens = trim_val(stream(600, seed=13, docs=7), T)
    ref = eval_sliding(model, tokens, T, 8, 4, lut(), RT, doc_aware=True)
    for zero in (TTTConfig(chunk_tokens=8, epochs=0, lora=LoRATTTConfig(batch_docs=3)),
                 TTTConfig(chunk_tokens=8, epochs=3, lr=0.0, optimizer="adam", lora=LoRATTTConfig(batch_docs=2))):
        r = eval_ttt_lora(model, tokens, T, zero, lut(), RT).result
        assert (r.scored_tokens, r.scored_bytes) == (ref.scored_tokens, ref.scored_bytes)
        assert r.val_loss == pytest.approx(ref.val_loss, rel=1e-6)


def test_lora_ttt_is_causal_within_documents_and_leaves_the_model_alone(model):
    tokens = trim_val(stream(480, seed=14, docs=4), T)
    before = snapshot(model)
    one = TTTConfig(**{**LORA.__dict__, "lora": LoRATTTConfig(rank=4, batch_docs=1)})
    base = eval_ttt_lora(model, tokens, T, one, lut(), RT, keep=True)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks for m in model.modules()) and base.stats["steps"] > 0
    ref = by_target(base.chunks)
    rng = np.random.default_rng(1)
    for cut in (60, 203, 333):
        t = tokens.copy()
        t[cut + 1 :] = rng.integers(1, 64, t.size - cut - 1)
        assert_prefix_unchanged(ref, by_target(eval_ttt_lora(model, t, T, one, lut(), RT, keep=True).chunks), cut)


def test_lora_documents_are_independent_of_their_batch(model):
    tokens = trim_val(stream(600, seed=15, docs=7), T)
    results = [eval_ttt_lora(model, tokens, T, TTTConfig(**{**LORA.__dict__, "lora": LoRATTTConfig(rank=4, batch_docs=b)}),
                             lut(), RT).result for b in (1, 3, 8)]
    plain = eval_sliding(model, tokens, T, 8, 4, lut(), RT, doc_aware=True)
    assert results[0].val_loss != plain.val_loss
    for r in results[1:]:
        assert r.val_loss == pytest.approx(results[0].val_loss, rel=1e-6)


def test_lora_learns_within_a_document(model):
    rng = np.random.default_rng(4)
    doc = np.concatenate(([1], np.tile(rng.integers(2, 64, 40), 6))).astype(np.uint16)
    tokens = trim_val(np.concatenate([doc, doc]), T)
    t = TTTConfig(chunk_tokens=8, epochs=2, optimizer="adam", lr=0.05, lora=LoRATTTConfig(rank=4, batch_docs=2))
    adapted = eval_ttt_lora(model, tokens, T, t, lut(), RT).result
    assert adapted.val_loss < eval_sliding(model, tokens, T, 8, 4, lut(), RT, doc_aware=True).val_loss - 0.05


@pytest.mark.slow
def test_lora_under_compile_equals_eager(model):
    """Dynamo skips hook guards: a graph traced before the adapters are attached must not be reused."""
    from pgolf.eval.plan import sliding_plan
    from pgolf.eval.scorer import WindowScorer
    from pgolf.eval.sliding import eval_plan

    tokens = trim_val(stream(300, seed=16, docs=3), T)
    plan = sliding_plan(tokens, T, 8, True, BOS)
    for p in model.parameters():  # as LoRA TTT will have them, so that no other guard forces a retrace
        p.requires_grad_(False)
    try:
        sc = WindowScorer(model, T, 3 * T, RT.device, compile=True, backend="aot_eager")
        before = eval_plan(model, tokens, plan, T, lut(), RT, 3 * T, scorer=sc)[0]  # traced without hooks
        eager = eval_ttt_lora(model, tokens, T, LORA, lut(), RT).result
        comp = eval_ttt_lora(model, tokens, T, LORA, lut(), RT, compile=True, backend="aot_eager")
        assert comp.result.val_loss == pytest.approx(eager.val_loss, rel=1e-5) and comp.stats["warmup_seconds"] > 0
        assert abs(eager.val_loss - before.val_loss) > 1e-3  # the adapters matter, so a stale graph would show
        sc = WindowScorer(model, T, 3 * T, RT.device, compile=True, backend="aot_eager")
        after = eval_plan(model, tokens, plan, T, lut(), RT, 3 * T, scorer=sc)[0]  # hooks gone again
        assert after.val_loss == pytest.approx(before.val_loss, rel=1e-6)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)


def test_lora_targets_must_name_casted_linear_layers(model):
    bad = TTTConfig(chunk_tokens=8, lora=LoRATTTConfig(targets=("attn.c_x",)))
    with pytest.raises(PgolfError, match="eval.ttt.lora.targets=attn.c_x: matches no CastedLinear"):
        eval_ttt_lora(model, trim_val(stream(100), T), T, bad, lut(), RT)


@pytest.mark.gpu
def test_ttt_compiled_on_cuda_matches_eager_cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rt = init_runtime("cuda")
    model = tiny_model(seed=1).to(rt.device)
    tokens = trim_val(stream(3000, seed=17, docs=12), T)
    L = lut(device="cuda")
    for t in (FULL, LORA):
        runs = []
        for compile in (False, True):
            if t.lora is None:
                runs.append(eval_ttt_full(model, tokens, T, 8, False, t, L, rt, 4 * T, compile=compile).result)
            else:
                runs.append(eval_ttt_lora(model, tokens, T, t, L, rt, compile=compile).result)
        assert runs[0].scored_bytes == runs[1].scored_bytes
        assert runs[1].val_bpb == pytest.approx(runs[0].val_bpb, rel=5e-3)  # bf16 autocast both ways


@pytest.mark.parametrize("name", ["pr1473", "pr601", "pr198"])
def test_ttt_on_technique_models(name):
    model = technique_model(name)
    tokens = trim_val(stream(400, seed=31, docs=5), T)
    plain = eval_sliding(model, tokens, T, 8, 4, lut(), RT)
    doc = eval_sliding(model, tokens, T, 8, 4, lut(), RT, doc_aware=True)
    zero_full = eval_ttt_full(model, tokens, T, 8, False, TTTConfig(chunk_tokens=64, epochs=0), lut(), RT, 4 * T)
    assert zero_full.result.val_loss == pytest.approx(plain.val_loss, rel=1e-7)
    zero_lora = eval_ttt_lora(model, tokens, T, TTTConfig(**{**TECH_LORA.__dict__, "epochs": 0}), lut(), RT)
    assert zero_lora.result.val_loss == pytest.approx(doc.val_loss, rel=1e-6)

    before = snapshot(model)
    rng = np.random.default_rng(0)
    cut = 150
    late = tokens.copy()
    late[cut + 1 :] = rng.integers(1, VOCAB, late.size - cut - 1)
    for run in (lambda t: eval_ttt_full(model, t, T, 8, False, TECH_FULL, lut(), RT, 4 * T, keep=True),
                lambda t: eval_ttt_lora(model, t, T, TECH_LORA, lut(), RT, keep=True)):
        base = run(tokens)
        assert base.stats["steps"] > 0 and base.result.scored_bytes == plain.scored_bytes
        assert base.result.val_loss != pytest.approx(plain.val_loss, rel=1e-6)  # the updates do something
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
        assert not any(m._forward_hooks for m in model.modules())
        assert_prefix_unchanged(by_target(base.chunks), by_target(run(late).chunks), cut)
