"""The evaluation entry points (eval/run.py: evaluate, evaluate_ttt): document splitting follows the model's own
`bos_id`, with and without TTT."""

from __future__ import annotations

import pytest
from _evalkit import TECH_LORA, _threads, lut, stream, technique_model  # noqa: F401 (_threads: autouse)

from pgolf.config import TTTConfig
from pgolf.eval.run import evaluate, evaluate_ttt
from pgolf.eval.sliding import eval_sliding
from pgolf.eval.standard import trim_val
from pgolf.runtime.dist import init_runtime

RT = init_runtime("cpu")
T = 32


def test_documents_split_at_the_models_bos_id():
    model = technique_model("pr198", **{"model.bos_id": 5})
    tokens = stream(400, seed=32, docs=1)
    tokens[tokens == 5] = 6
    tokens[[0, 90, 170, 300]] = 5
    tokens = trim_val(tokens, T)
    ours = evaluate(model, tokens, T, 8, 4 * T, lut(), RT, doc_aware=True)
    assert ours.val_loss == pytest.approx(eval_sliding(model, tokens, T, 8, 4, lut(), RT, True, bos_id=5).val_loss,
                                          rel=1e-9)
    assert ours.val_loss != pytest.approx(eval_sliding(model, tokens, T, 8, 4, lut(), RT, True, bos_id=1).val_loss, rel=1e-6)
    zero = evaluate_ttt(model, tokens, T, 8, 4 * T, lut(), RT, TTTConfig(**{**TECH_LORA.__dict__, "epochs": 0}))
    assert zero.result.val_loss == pytest.approx(ours.val_loss, rel=1e-6) and zero.stats["docs"] == 4
