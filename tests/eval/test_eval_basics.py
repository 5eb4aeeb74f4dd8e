"""bpb byte accounting, standard eval against a brute-force loop, sliding-window coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _evalkit import _threads  # noqa: F401 (autouse: one thread)

from pgolf.config import ModelConfig
from pgolf.data.tokenizer import byte_luts, load_sentencepiece
from pgolf.eval.bpb import DeviceLUT
from pgolf.eval.sliding import eval_sliding, windows
from pgolf.eval.standard import eval_standard, trim_val
from pgolf.model.gpt import GPT
from pgolf.runtime.dist import init_runtime


def test_target_bytes_equal_decoded_text_bytes(tokenizer_path, docs):
    sp = load_sentencepiece(tokenizer_path)
    lut = DeviceLUT(byte_luts(sp), torch.device("cpu"))
    for d in docs[:40]:
        ids = [sp.bos_id(), *sp.encode(d)]
        if sp.unk_id() in ids:
            continue
        t = torch.tensor(ids)
        got = int(lut.target_bytes(t[:-1], t[1:]).sum())
        assert got == len(sp.decode(ids[1:]).encode("utf-8"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.manual_seed(0)
    cfg = ModelConfig(num_layers=2, model_dim=32, num_heads=2, num_kv_heads=1, vocab_size=64)
    model = GPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 64, 1000).astype(np.uint16)
    base = rng.integers(0, 4, 64).astype(np.int16)
    space = rng.random(64) < 0.5
    boundary = np.zeros(64, bool)
    boundary[:2] = True
    from pgolf.data.tokenizer import ByteLUT

    lut = DeviceLUT(ByteLUT(base, space, boundary), torch.device("cpu"))
    return model, tokens, lut, (base, space, boundary)


def brute(model, tokens, T, stride, tables):
    """Score every target once with the longest window context the rules allow, one token at a time."""
    base, space, boundary = tables
    N = tokens.size - 1
    nll = nbytes = 0.0
    for j in range(1, N + 1):  # target index j (predicts tokens[j] from tokens[:j])
        if j <= T:
            a = 0
        else:
            a = min(((j - T - 1) // stride + 1) * stride, N - T) if stride < T else ((j - 1) // T) * T
        if stride >= T:
            a = ((j - 1) // T) * T
        x = torch.from_numpy(tokens[a:j].astype(np.int64))[None]
        z = model.logits(x)[0, -1].double()
        nll += -torch.log_softmax(z, -1)[int(tokens[j])].item()
        nbytes += base[tokens[j]] + (space[tokens[j]] and not boundary[tokens[j - 1]])
    return nll / N, nll / (math.log(2) * nbytes), N, nbytes


def test_standard_eval_equals_brute_force(setup):
    model, tokens, lut, tables = setup
    rt = init_runtime("cpu")
    val = trim_val(tokens, 32)
    r = eval_standard(model, val, 32, 96, lut, rt)
    loss, bpb, n, b = brute(model, val, 32, 32, tables)
    assert r.scored_tokens == n == 31 * 32 and r.scored_bytes == b
    assert abs(r.val_loss - loss) < 1e-5 and abs(r.val_bpb - bpb) < 1e-5


@pytest.mark.parametrize("stride", [8, 12])
def test_sliding_eval_equals_brute_force(setup, stride):
    model, tokens, lut, tables = setup
    rt = init_runtime("cpu")
    val = trim_val(tokens[:301], 32)
    r = eval_sliding(model, val, 32, stride, 5, lut, rt)
    loss, bpb, n, b = brute(model, val, 32, stride, tables)
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


@pytest.mark.parametrize("N,T,s", [(1024, 256, 64), (1000, 100, 30), (64, 64, 16), (300, 32, 7)])
def test_windows_score_every_target_once(N, T, s):
    hits = np.zeros(N + 1, int)
    for a, first in windows(N, T, s):
        assert 0 <= a and a + T <= N
        hits[a + 1 + first : a + T + 1] += 1
    assert hits[0] == 0 and (hits[1:] == 1).all()
