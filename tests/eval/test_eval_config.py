"""The eval block of the config: TTT is on because its block is present; bad values are one-line errors."""

from __future__ import annotations

import pytest

from pgolf.config import Config, EvalConfig, TTTConfig, from_dict, override, to_dict, validate
from pgolf.errors import PgolfError


def test_ttt_blocks_are_built_by_their_keys_and_round_trip():
    cfg = validate(override(Config(), {"eval.doc_aware": "true", "eval.ttt.lora.rank": "4",
                                       "eval.ttt.chunk_tokens": "64", "eval.ttt.lora.targets": "attn.c_q,mlp.fc"}))
    t = cfg.eval.ttt
    assert cfg.eval.doc_aware and t.lora.rank == 4 and t.lora.targets == ("attn.c_q", "mlp.fc")
    assert t.chunk_tokens == 64 and t.epochs == TTTConfig().epochs
    assert from_dict(Config, to_dict(cfg)) == cfg
    assert override(cfg, {"eval.ttt": "none"}).eval.ttt is None
    assert Config().eval == EvalConfig() and EvalConfig().ttt is None  # off unless asked for


@pytest.mark.parametrize("changes,msg", [
    ({"eval.ttt.lora": "on"}, "eval.ttt.chunk_tokens: must be ≤ the eval sequence length 1024 with lora"),
    ({"eval.ttt.params": "some"}, "eval.ttt.params: expected one of 'all', 'matrices', 'control'"),
    ({"eval.ttt.momentum": "1.0"}, "eval.ttt.momentum: must be in [0, 1)"),
    ({"eval.ttt.epochs": "-1"}, "eval.ttt.epochs: must be ≥ 0"),
    ({"eval.ttt.chunk_tokens": "64", "eval.ttt.lora.rank": "0"}, "eval.ttt.lora.rank: rank and batch_docs"),
])
def test_bad_ttt_values(changes, msg):
    with pytest.raises(PgolfError) as e:
        validate(override(Config(), changes))
    assert msg in str(e.value) and "\n" not in str(e.value)
