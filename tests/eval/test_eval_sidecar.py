"""Scoring with a CaseOps byte sidecar: every eval mode divides by Σ sidecar over exactly the scored targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _evalkit import _threads, lut, stream, tiny_model  # noqa: F401 (_threads: autouse)
from test_eval_plan import reference_doc_context

from pgolf.config import LoRATTTConfig, PhasedTTTConfig, TTTConfig
from pgolf.eval.accounting import SidecarBytes
from pgolf.eval.run import evaluate, evaluate_ttt
from pgolf.eval.standard import eval_standard, trim_val
from pgolf.runtime.dist import init_runtime

RT = init_runtime("cpu")
T = 32


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=3)


def sidecar_for(tokens: np.ndarray, seed: int = 0) -> np.ndarray:
    """Random per-position bytes 0..9 (BOS 0), and a huge value at position 0, which is never a target."""
    v = np.random.default_rng(seed).integers(0, 10, tokens.size).astype(np.uint16)
    v[tokens == 1] = 0
    v[0] = 60_000
    return v


def brute(model, tokens, side, context_start):
    """One forward per target j on tokens[context_start(j) : j]; bytes = side[j]; float64 sums."""
    N = tokens.size - 1
    nll = nbytes = 0.0
    with torch.no_grad():
        for j in range(1, N + 1):
            a = context_start(j)
            z = model.logits(torch.from_numpy(tokens[a:j].astype(np.int64))[None])[0, -1].double()
            nll -= torch.log_softmax(z, -1)[int(tokens[j])].item()
            nbytes += int(side[j])
    return nll / N, nll / (math.log(2) * nbytes), N, int(nbytes)


@pytest.mark.parametrize("mode", ["standard", "sliding", "doc_aware"])
def test_sidecar_bpb_equals_a_per_token_loop(model, mode):
    tokens = trim_val(stream(420, seed=5, docs=6), T)
    side = sidecar_for(tokens, seed=1)
    acct = SidecarBytes(side, torch.device("cpu"))
    N, s = tokens.size - 1, 12
    if mode == "standard":
        r, ctx = eval_standard(model, tokens, T, 96, acct, RT), (lambda j: (j - 1) // T * T)
    elif mode == "sliding":
        r = evaluate(model, tokens, T, s, 128, acct, RT)
        ctx = lambda j: 0 if j <= T else min(-(-(j - T) // s) * s, N - T)  # noqa: E731
    else:
        r = evaluate(model, tokens, T, s, 128, acct, RT, doc_aware=True)
        ctx = lambda j: reference_doc_context(tokens, j, T, s)  # noqa: E731
    loss, bpb, n, b = brute(model, tokens, side, ctx)
    assert r.accounting == "byte sidecar"
    assert (r.scored_tokens, r.scored_bytes) == (n, b) and b == int(side[1:].sum())
    assert r.val_loss == pytest.approx(loss, rel=1e-6) and r.val_bpb == pytest.approx(bpb, rel=1e-6)


@pytest.mark.parametrize("ttt", [TTTConfig(chunk_tokens=128, epochs=1, lr=0.05, batch_seqs=4),
                                 TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=0.02,
                                           lora=LoRATTTConfig(rank=4, batch_docs=2)),
                                 TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=0.02,
                                           lora=LoRATTTConfig(rank=4, batch_docs=2),
                                           phased=PhasedTTTConfig(prefix_docs=2, num_phases=2, lr=0.05,
                                                                  chunk_tokens=2 * T, batch_seqs=2))],
                         ids=["full", "lora", "phased"])
def test_ttt_with_a_sidecar_scores_the_same_nll_over_sidecar_bytes(model, ttt):
    """TTT's NLL does not depend on the accounting; only the denominator changes, to Σ sidecar of all targets."""
    tokens = trim_val(stream(300, seed=8, docs=5), T)
    side = sidecar_for(tokens, seed=2)
    with_lut = evaluate_ttt(model, tokens, T, 8, 8 * T, lut(), RT, ttt).result
    r = evaluate_ttt(model, tokens, T, 8, 8 * T, SidecarBytes(side, torch.device("cpu")), RT, ttt).result
    assert r.accounting == "byte sidecar" and with_lut.accounting == "byte LUT"
    assert r.scored_tokens == with_lut.scored_tokens == tokens.size - 1
    assert r.scored_bytes == int(side[1:].sum())
    assert r.val_loss == pytest.approx(with_lut.val_loss, rel=1e-9)
    assert r.val_bpb == pytest.approx(r.val_loss * r.scored_tokens / (math.log(2) * r.scored_bytes), rel=1e-12)


@pytest.fixture(scope="module")
def caseops_data(tmp_path_factory, docs, caseops_tokenizer_path):
    from pgolf.data.build import build_corpus

    out = tmp_path_factory.mktemp("caseops") / "data"
    src = out.parent / "docs.jsonl"
    import json

    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs[:30]), encoding="utf-8")
    build_corpus([src], caseops_tokenizer_path, out, val_docs=8, shard_tokens=4000, workers=1, caseops=True,
                 log=lambda *a: None, progress=False)
    return out


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from pgolf.artifact.model_file import export_model
    from pgolf.config import override
    from pgolf.model.gpt import GPT
    from pgolf.recipes import get_recipe

    cfg = override(get_recipe("tiny").build(), {"model.vocab_size": 512, "model.num_layers": 1,
                                                "model.model_dim": 32})
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("art") / "m.pga"
    export_model(GPT(cfg.model), cfg.model, cfg.quant, cfg.artifact, path)
    return path


def test_pgolf_eval_uses_the_sidecar_and_refuses_caseops_without_one(tmp_path, capsys, caseops_data, artifact,
                                                                     caseops_tokenizer_path):
    import json
    import shutil

    from pgolf.cli import main
    from pgolf.data.shards import load_split
    from pgolf.data.sidecar import load_sidecar

    argv = ["eval", str(artifact), "--tokenizer", str(caseops_tokenizer_path), "--seq-len", "64", "--stride", "16",
            "--max-tokens", "1024", "--batch-tokens", "512", "--json", "--data"]
    assert main(argv + [str(caseops_data)]) == 0
    d = json.loads(capsys.readouterr().out)
    val = trim_val(np.asarray(load_split(caseops_data, "val")), 64, 1024)
    assert d["accounting"] == "byte sidecar" and d["scored_tokens"] == 1024
    assert d["scored_bytes"] == int(load_sidecar(caseops_data)[1 : val.size].astype(np.int64).sum())
    bare = tmp_path / "bare"
    shutil.copytree(caseops_data, bare)
    for p in bare.glob("fineweb_val_bytes_*.bin"):
        p.unlink()
    assert main(argv + [str(bare)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no fineweb_val_bytes_*.bin sidecar" in err and "CaseOps tokenizer" in err
