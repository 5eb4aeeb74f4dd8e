"""Phased score-first TTT (pgolf.eval.ttt_phased, pgolf.eval.ttt_global): #1855's queue and chunk geometry
against literal re-implementations, plain scoring against a per-window loop, and the legality properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _evalkit import BOS, _threads, lut, stream, tiny_model  # noqa: F401 (_threads: autouse)

from pgolf.config import LoRATTTConfig, PhasedTTTConfig, TTTConfig
from pgolf.eval.plan import doc_spans
from pgolf.eval.score_first import Ledger, LegalityError
from pgolf.eval.ttt_global import phase_lr, phase_tokens
from pgolf.eval.ttt_phased import doc_chunk, doc_windows, eval_ttt_phased, phase_boundaries, queue
from pgolf.runtime.dist import init_runtime

T = 32
TARGETS = ("attn.c_q", "attn.c_k", "attn.c_v", "attn", "mlp")


@pytest.fixture(scope="module")
def rt():
    return init_runtime("cpu")


def cfg(epochs=1, phased=None, tilt=None, **lora) -> TTTConfig:
    lo = dict(rank=4, alpha=8.0, targets=TARGETS, batch_docs=3, a_init="per_slot", warm_start_a=True, lm_head=True)
    lo.update(lora)
    return TTTConfig(chunk_tokens=8, epochs=epochs, optimizer="adam", lr=3e-2, momentum=0.0, beta2=0.99,
                     adam_eps=1e-10, weight_decay=0.5, grad_clip=0.0, lr_schedule="constant",
                     lora=LoRATTTConfig(**lo), phased=phased, tilt=tilt)


PHASES = PhasedTTTConfig(prefix_docs=5, num_phases=2, lr=0.05, chunk_tokens=2 * T, batch_seqs=2)


def record_queue(tokens: np.ndarray, batch_size: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """#1855's _find_docs + _build_ttt_global_batches, literally; documents as (start, predicted targets)."""
    bos = np.flatnonzero(tokens == 1)
    docs = []
    for i, s in enumerate(bos):
        end = int(bos[i + 1]) + 1 if i + 1 < len(bos) else tokens.size
        docs.append((int(s), end - int(s)))
    entries = sorted(enumerate(docs), key=lambda x: x[1][1])
    batches = [entries[i : i + batch_size] for i in range(0, len(entries), batch_size)]
    indexed = list(enumerate(batches))
    indexed.sort(key=lambda ib: -max(dl for _, (_, dl) in ib[1]))
    return [(bi, [(s, dl - 1) for _, (s, dl) in b]) for bi, b in indexed]


def record_window(ci: int, pred_len: int, num_chunks: int, C: int, T: int) -> tuple[int, int, int, int]:
    """#1855's _compute_chunk_window, literally."""
    chunk_end = pred_len if ci == num_chunks - 1 else (ci + 1) * C
    win_start = max(0, chunk_end - T)
    return win_start, chunk_end - win_start, ci * C - win_start, chunk_end - ci * C


def test_queue_is_the_records_order():
    for seed, docs, S in [(0, 17, 3), (1, 9, 4), (2, 30, 64), (3, 12, 1)]:
        tok = stream(600, seed, docs)
        assert queue(doc_spans(tok, BOS), S) == record_queue(tok, S)


def test_doc_windows_are_the_records_geometry_and_score_each_target_once():
    for n in (1, 5, 8, 9, 31, 32, 33, 70, 100):
        for C in (1, 3, 8):
            wins = doc_windows(10, n, T, C)
            nc = -(-n // C)
            assert len(wins) == nc
            got = [(w.start - 10, w.length, w.first, w.length - w.first) for w in wins]
            assert got == [record_window(c, n, nc, C, T) for c in range(nc)]
            targets = [j for w in wins for j in range(w.lo, w.hi + 1)]
            assert targets == list(range(11, 11 + n))


def test_short_document_chunk_schedule_picks_the_first_fitting_bound():
    lo = LoRATTTConfig(short_doc_len=(4, 20), short_doc_chunk=(2, 5))
    assert [doc_chunk(n, lo, 8) for n in (1, 4, 5, 20, 21)] == [2, 2, 5, 5, 8]


def test_phase_boundaries_are_cumulative():
    assert phase_boundaries(50_000, 2500, 3) == [833, 1666, 2500]
    assert phase_boundaries(4, 2500, 2) == [2, 4]
    assert phase_boundaries(10, 0, 3) == []


def test_without_training_it_is_the_per_window_loss_of_the_records_geometry(rt):
    model, tok = tiny_model(), stream(500, 3, 8)
    t = cfg(epochs=0)
    r = eval_ttt_phased(model, tok, T, t, lut(), rt)
    nll, n = 0.0, 0
    with torch.no_grad():
        for d, k in doc_spans(tok, BOS):
            for w in doc_windows(d, k, T, t.chunk_tokens):
                x = torch.from_numpy(tok[w.start : w.start + w.length + 1].astype(np.int64))[None]
                losses = model.token_losses(x[:, :-1], x[:, 1:])[0, w.first :]
                nll, n = nll + losses.double().sum().item(), n + losses.numel()
    assert r.result.scored_tokens == n == tok.size - 1
    assert r.result.val_loss == pytest.approx(nll / n, rel=1e-6)


def test_every_target_is_scored_once_and_the_model_is_restored(rt):
    model, tok = tiny_model(), stream(400, 4, 9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r = eval_ttt_phased(model, tok, T, cfg(phased=PHASES), lut(), rt, keep=True)
    targets = torch.cat([tg for tg, _ in r.stats["kept"]])
    assert sorted(targets.tolist()) == list(range(1, tok.size))  # C4: one pass, each target once
    assert r.stats["phases"] == 2 and r.stats["global_steps"] > 0 and r.stats["steps"] > 0
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def per_target(r) -> dict[int, tuple[int, float]]:
    return {j: (c, v) for c, (tg, ls) in enumerate(r.stats["kept"]) for j, v in zip(tg.tolist(), ls.tolist())}


@pytest.mark.parametrize("tilt", [False, True])
def test_a_token_never_changes_a_loss_scored_before_it(rt, tilt):
    """C3 (and C1 within the document): change the value of token p; every target scored in an earlier chunk,
    or earlier in p's own chunk, keeps its loss bitwise — through LoRA steps, warm A and global phases. With the
    tilt, whose hints read the stream prefix, the same holds for the targets before p in the stream."""
    from pgolf.config import NgramTiltConfig

    model, tok = tiny_model(), stream(400, 5, 9)
    tl = NgramTiltConfig(order=2, threshold=0.3) if tilt else None
    t = cfg(phased=PHASES, tilt=tl)
    base = per_target(eval_ttt_phased(model, tok, T, t, lut(), rt, keep=True))
    changed_later = 0
    for p in (37, 150, 301):
        assert tok[p] != 1
        alt = tok.copy()
        alt[p] = 2 + (int(tok[p]) - 1) % 62
        got = per_target(eval_ttt_phased(model, alt, T, t, lut(), rt, keep=True))
        cp = base[p][0]
        for j, (c, v) in base.items():
            before = c < cp or (c == cp and j < p)
            if before and (not tilt or j < p):
                assert got[j] == (c, v), (p, j)
            elif c > cp and got[j][1] != v:
                changed_later += 1
    assert changed_later > 0  # the adaptation does carry what it learned to later chunks


def test_global_phase_trains_only_on_scored_documents():
    tok = stream(300, 6, 5)
    docs = doc_spans(tok, BOS)
    ledger = Ledger(tok.size - 1)
    d, n = docs[1]
    with pytest.raises(LegalityError):
        phase_tokens(tok, [docs[1]], ledger)
    ledger.done[d + 1 : d + n + 1] = True
    seq = phase_tokens(tok, [docs[1]], ledger)
    assert seq.tolist() == tok[d : d + n + 1].tolist()


def test_phase_lr_is_a_cosine_over_the_chunks():
    ph = PhasedTTTConfig(lr=1e-3)
    assert [phase_lr(ph, c, 5) for c in (0, 2, 4)] == pytest.approx([1e-3, 0.5e-3, 0.0])
    assert phase_lr(ph, 0, 1) == 1e-3 and not math.isnan(phase_lr(ph, 0, 1))


def test_phases_change_what_later_batches_see(rt):
    model, tok = tiny_model(), stream(400, 7, 9)
    plain = eval_ttt_phased(model, tok, T, cfg(), lut(), rt).result.val_loss
    phased = eval_ttt_phased(model, tok, T, cfg(phased=PHASES), lut(), rt).result.val_loss
    assert plain != phased


def test_adapters_on_a_looped_model_are_per_virtual_slot(rt):
    from pgolf.config import ModelConfig, RecurrenceConfig
    from pgolf.eval.lora import LoRABank
    from pgolf.model.gpt import GPT

    torch.manual_seed(0)
    m = GPT(ModelConfig(num_layers=3, model_dim=32, num_heads=2, num_kv_heads=1, vocab_size=64,
                        recurrence=RecurrenceConfig(loop_start=1, loop_end=1, num_loops=2)))
    m.set_looping(True)
    bank = LoRABank(m, ("attn", "mlp"), 2, 4.0, 2, 0, torch.device("cpu"), "per_slot", head=(32, 64))
    passes = dict(zip([n for n, _ in bank.layers], bank.passes))
    assert passes["blocks.1.attn"] == 3 and passes["blocks.0.mlp"] == 1 and passes["lm_head"] == 1
    a = bank.A[[n for n, _ in bank.layers].index("blocks.1.attn")]
    assert not torch.equal(a[0, 0], a[0, 1]) and not torch.equal(a[0, 0], a[1, 0])  # per-slot draws


def test_compiled_pass_equals_eager_and_warms_up_first(rt):
    """Compile (aot_eager on CPU): the graphs are traced during the warm-up on random tokens, with the adapters
    attached, and the pass computes what the eager pass computes."""
    model, tok = tiny_model(), stream(300, 8, 5)
    t = cfg(phased=PhasedTTTConfig(prefix_docs=2, chunk_tokens=2 * T, batch_seqs=2))
    eager = eval_ttt_phased(model, tok, T, t, lut(), rt)
    comp = eval_ttt_phased(model, tok, T, t, lut(), rt, compile=True, backend="aot_eager")
    assert comp.result.val_loss == pytest.approx(eager.result.val_loss, rel=1e-5)
    assert comp.stats["warmup_seconds"] > 0 and comp.stats["phases"] == 1


def test_record_presets_validate_and_carry_the_records_settings():
    from pgolf.config import EvalConfig, validate_eval
    from pgolf.eval.ttt_phased import pr1855_ttt, pr2135_ttt

    a, b = pr1855_ttt(), pr2135_ttt()
    for t in (a, b):
        validate_eval(EvalConfig(ttt=t), 2048)
    assert (a.lora.rank, a.lora.alpha, a.beta2, a.weight_decay, a.chunk_tokens) == (80, 144.0, 0.99, 0.5, 48)
    assert phase_boundaries(50_000, a.phased.prefix_docs, a.phased.num_phases) == [833, 1666, 2500]
    assert (b.lr, b.weight_decay, b.phased.num_phases, b.tilt.boost) == (8e-5, 2.0, 1, 2.625)
    assert "attn.c_k" not in b.lora.targets and "attn.c_k" in a.lora.targets


def test_no_qv_mask_leaves_q_and_v_without_adapters(rt):
    from pgolf.eval.lora import LoRABank

    bank = LoRABank(tiny_model(), ("attn.c_k", "attn", "mlp"), 2, 4.0, 2, 0, torch.device("cpu"))
    names = [n for n, _ in bank.layers]
    assert not any(n.endswith(("c_q", "c_v")) for n in names) and any(n.endswith("c_k") for n in names)
    r = eval_ttt_phased(tiny_model(), stream(300, 9, 5), T, cfg(lm_head=False, targets=("attn.c_k", "attn", "mlp")),
                        lut(), rt)
    assert r.result.scored_tokens == 299
