"""Evaluation and TTT on models built with the seed recipes' techniques (BigramHash, SmearGate, XSA, value
embeddings, value residual, gated attention, partial RoPE, LN scale): zero steps ≡ the plain evaluation, TTT is
causal and restores the model, and document splitting follows the model's own `bos_id`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _evalkit import VOCAB, _threads, lut, stream  # noqa: F401 (_threads: autouse)
from test_eval_ttt import assert_prefix_unchanged, by_target, snapshot

from pgolf.config import LoRATTTConfig, TTTConfig, override
from pgolf.eval.run import evaluate, evaluate_ttt
from pgolf.eval.sliding import eval_sliding
from pgolf.eval.standard import trim_val
from pgolf.eval.ttt import eval_ttt_full
from pgolf.eval.ttt_lora import eval_ttt_lora
from pgolf.model.gpt import GPT
from pgolf.recipes import get_recipe, tiny
from pgolf.runtime.dist import init_runtime

RT = init_runtime("cpu")
T = 32
FULL = TTTConfig(chunk_tokens=64, epochs=1, lr=0.05, batch_seqs=2, lr_schedule="constant")
LORA = TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=0.02, lora=LoRATTTConfig(rank=2, batch_docs=2))


def technique_model(name: str, **changes) -> GPT:
    cfg = override(tiny(get_recipe(name).build()), {"model.vocab_size": VOCAB, "model.model_dim": 64, **changes})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


@pytest.mark.parametrize("name", ["pr1473", "pr601", "pr198"])
def test_ttt_on_technique_models(name):
    model = technique_model(name)
    tokens = trim_val(stream(400, seed=31, docs=5), T)
    plain = eval_sliding(model, tokens, T, 8, 4, lut(), RT)
    doc = eval_sliding(model, tokens, T, 8, 4, lut(), RT, doc_aware=True)
    zero_full = eval_ttt_full(model, tokens, T, 8, False, TTTConfig(chunk_tokens=64, epochs=0), lut(), RT, 4 * T)
    assert zero_full.result.val_loss == pytest.approx(plain.val_loss, rel=1e-7)
    zero_lora = eval_ttt_lora(model, tokens, T, TTTConfig(**{**LORA.__dict__, "epochs": 0}), lut(), RT)
    assert zero_lora.result.val_loss == pytest.approx(doc.val_loss, rel=1e-6)

    before = snapshot(model)
    rng = np.random.default_rng(0)
    cut = 150
    late = tokens.copy()
    late[cut + 1 :] = rng.integers(1, VOCAB, late.size - cut - 1)
    for run in (lambda t: eval_ttt_full(model, t, T, 8, False, FULL, lut(), RT, 4 * T, keep=True),
                lambda t: eval_ttt_lora(model, t, T, LORA, lut(), RT, keep=True)):
        base = run(tokens)
        assert base.stats["steps"] > 0 and base.result.scored_bytes == plain.scored_bytes
        assert base.result.val_loss != pytest.approx(plain.val_loss, rel=1e-6)  # the updates do something
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
        assert not any(m._forward_hooks for m in model.modules())
        assert_prefix_unchanged(by_target(base.chunks), by_target(run(late).chunks), cut)


def test_documents_split_at_the_models_bos_id():
    model = technique_model("pr198", **{"model.bos_id": 5})
    tokens = stream(400, seed=32, docs=1)
    tokens[tokens == 5] = 6
    tokens[[0, 90, 170, 300]] = 5
    tokens = trim_val(tokens, T)
    ours = evaluate(model, tokens, T, 8, 4 * T, lut(), RT, doc_aware=True)
    assert ours.val_loss == pytest.approx(eval_sliding(model, tokens, T, 8, 4, lut(), RT, True, bos_id=5).val_loss,
                                          rel=1e-9)
    assert ours.val_loss != pytest.approx(eval_sliding(model, tokens, T, 8, 4, lut(), RT, True).val_loss, rel=1e-6)
    zero = evaluate_ttt(model, tokens, T, 8, 4 * T, lut(), RT, TTTConfig(**{**LORA.__dict__, "epochs": 0}))
    assert zero.result.val_loss == pytest.approx(ours.val_loss, rel=1e-6) and zero.stats["docs"] == 4
