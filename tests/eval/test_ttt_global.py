"""The phased TTT's global SGD phase (pgolf.eval.ttt_global) with document isolation (#1855's
GLOBAL_TTT_RESPECT_DOC_BOUNDARIES=1): a step's rows run as one flat row whose attention stays inside each document,
checked against a naive reference that runs every segment alone, and by perturbing one document."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _evalkit import _threads, lut, stream, tiny_model  # noqa: F401 (_threads: autouse)

from pgolf.config import PhasedTTTConfig
from pgolf.eval.asym_logit import head_logits
from pgolf.eval.ttt_global import global_attention, global_sgd_phase, phase_logits, phase_loss
from pgolf.runtime.dist import init_runtime

T = 32
ISO = PhasedTTTConfig(lr=0.05, momentum=0.9, chunk_tokens=3 * T, batch_seqs=2, grad_clip=1.0)
ROWS = PhasedTTTConfig(lr=0.05, momentum=0.9, chunk_tokens=3 * T, batch_seqs=2, grad_clip=1.0, isolate_docs=False)


@pytest.fixture(scope="module")
def rt():
    return init_runtime("cpu")


def frontier_model():
    """pr1855 at tiny size (gated SmearGate with the BOS fix, sparse attention gate, parallel lanes, skip gates),
    looping on, every weight perturbed."""
    from pgolf.model.gpt import GPT
    from pgolf.recipes import get_recipe, tiny

    torch.manual_seed(0)
    m = GPT(tiny(get_recipe("pr1855").build()).model)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    m.set_looping(True)
    return m.eval()


def naive_segments(x: list[int], bos: int, cap: int) -> list[tuple[int, int]]:
    """Segments of a flat row, walked token by token: a new one at 0, at every BOS, and after `cap` tokens."""
    out, start = [], 0
    for i in range(1, len(x) + 1):
        if i == len(x) or x[i] == bos or i - start == cap:
            out.append((start, i))
            start = i
    return out


def reference_loss(model, xy: torch.Tensor, cap: int) -> torch.Tensor:
    """Σ over segments run ALONE (plain causal attention, positions from 0) of the segment's NLL sum, / targets."""
    x, y = xy[:-1], xy[1:]
    total = 0.0
    for s, e in naive_segments(x.tolist(), 1, cap):
        z = head_logits(model, model.hidden(x[s:e][None])).float()
        total = total + F.cross_entropy(z[0], y[s:e], reduction="sum")
    return total / x.numel()


def packed(lens: list[int], seed: int = 0) -> torch.Tensor:
    """Documents of the given lengths (each BOS + random ids), back to back, plus one token: a step's xy."""
    rng = np.random.default_rng(seed)
    toks = np.concatenate([np.r_[1, rng.integers(2, 64, n - 1)] for n in lens] + [[1]])
    return torch.from_numpy(toks.astype(np.int64))


def grads(model, loss: torch.Tensor) -> list[torch.Tensor]:
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(True)
    g = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if gi is None else gi for p, gi in zip(params, g)]


@pytest.mark.parametrize("lens,rows_differ", [([20, 44], True), ([7, 30, 27], True), ([64], False),
                                               ([20, 44, 10, 22], True)])  # 3 rows: the banded masked path
def test_isolated_loss_and_grads_are_the_sum_over_segments_run_alone(rt, lens, rows_differ):
    """Documents straddling the two rows of T, one longer than T (cut at T from its BOS); a single 64-token
    document is cut exactly where rows of T cut it."""
    model = tiny_model()
    xy = packed(lens)
    got = phase_loss(model, xy, T, ISO, rt, model.cfg.bos_id)
    ref = reference_loss(model, xy, T)
    # RoPE sees flat positions in the packed row, 0.. in the reference: equal up to fp32 rounding of the angles
    assert got.item() == pytest.approx(ref.item(), rel=1e-5)
    for a, b in zip(grads(model, got), grads(model, ref)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    plain = phase_loss(model, xy, T, ROWS, rt, model.cfg.bos_id)  # rows of T: documents see each other, and a straddler is cut
    assert (abs(plain.item() - ref.item()) > 1e-4) == rows_differ


@pytest.mark.parametrize("make", [tiny_model, frontier_model], ids=["tiny", "pr1855"])
def test_perturbing_document_a_never_changes_document_b(rt, make):
    """Two documents in one row: changing a token of A changes neither B's per-token losses nor the gradient of
    B's loss (bitwise); without isolation B's losses do change."""
    model = make()
    V = model.cfg.vocab_size
    xy = packed([24, 40], seed=3) % V
    xy[[0, 24, 64]] = 1
    alt = xy.clone()
    alt[10] = 2 + (int(xy[10]) + 5) % (V - 2)

    def b_part(seq, ph):
        z, y = phase_logits(model, seq, T, ph, rt, model.cfg.bos_id)
        nll = F.cross_entropy(z.reshape(-1, z.size(-1)), y.reshape(-1), reduction="none")[24:]
        return nll, grads(model, nll.sum())

    (l0, g0), (l1, g1) = b_part(xy, ISO), b_part(alt, ISO)
    assert torch.equal(l0, l1)
    assert all(torch.equal(a, b) for a, b in zip(g0, g1))
    assert not torch.equal(b_part(xy, ROWS)[0], b_part(alt, ROWS)[0])


@pytest.mark.parametrize("rows", [2, 3])  # 3-row steps: a flat row of 3·T takes the banded masked path
def test_the_phase_trains_as_the_per_segment_reference_loop(rt, rows):
    """global_sgd_phase (3 chunks, 2- or 3-row steps, momentum, clip, cosine LR) ends at the weights of a naive loop
    that computes every step's loss segment by segment (the same SGD)."""
    from dataclasses import replace

    from pgolf.eval.ttt_global import phase_lr

    ph = replace(ISO, batch_seqs=rows)
    seq = torch.from_numpy(stream(3 * 3 * T + 5, 11, 9).astype(np.int64))
    ours, ref = tiny_model(), tiny_model()
    steps = global_sgd_phase(ours, seq, ph, T, rt, ours.cfg.bos_id)
    params = list(ref.parameters())
    opt = torch.optim.SGD(params, lr=ISO.lr, momentum=ISO.momentum)
    total = seq.numel() - 1
    chunks, n_ref = -(-total // ISO.chunk_tokens), 0
    for c in range(chunks - 1):
        for g in opt.param_groups:
            g["lr"] = phase_lr(ISO, c, chunks)
        lo, n = c * ISO.chunk_tokens, ISO.chunk_tokens // T
        for r0 in range(0, n, rows):
            r1 = min(r0 + rows, n)
            opt.zero_grad()
            g = grads(ref, reference_loss(ref, seq[lo + r0 * T : lo + r1 * T + 1], T))
            for p, gi in zip(params, g):
                p.grad = gi
            torch.nn.utils.clip_grad_norm_(params, ISO.grad_clip)
            opt.step()
            n_ref += 1
    assert steps == n_ref == (6 if rows == 2 else 3)
    for (name, a), b in zip(ours.named_parameters(), params):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_the_phased_pass_names_the_global_attention_it_used(rt):
    from pgolf.config import LoRATTTConfig, TTTConfig
    from pgolf.eval.ttt_phased import eval_ttt_phased

    tok = stream(400, 4, 9)
    res = {}
    for ph in (ISO, ROWS):
        t = TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=3e-2, beta2=0.99, lr_schedule="constant",
                      lora=LoRATTTConfig(rank=2, alpha=4.0, batch_docs=3, lm_head=True),
                      phased=PhasedTTTConfig(prefix_docs=5, num_phases=1, lr=0.05, chunk_tokens=2 * T, batch_seqs=2,
                                             isolate_docs=ph.isolate_docs))
        res[ph.isolate_docs] = eval_ttt_phased(tiny_model(), tok, T, t, lut(), rt)
    assert "isolated" in res[True].stats["global_attention"] and "masked" in res[True].stats["global_attention"]
    assert "not isolated" in res[False].stats["global_attention"]
    assert res[True].result.val_loss != res[False].result.val_loss


def test_a_model_trained_without_varlen_gets_the_auto_kernel_and_keeps_its_dense_path(rt):
    model = tiny_model()
    assert model.varlen_kernel is None
    assert "masked" in global_attention(model, ISO, on_cuda=False) and model.varlen_kernel == "masked"
    x = torch.from_numpy(stream(T, 2, 2).astype(np.int64))[None]
    dense = copy.deepcopy(tiny_model()).logits(x)
    torch.testing.assert_close(model.logits(x), dense, rtol=0, atol=0)
