"""What benchmarks/proxy_ladder.py's --seed reaches (issue 17, the ladder's second seed): the initial weights of every
ladder recipe, not the order of the training data. pr1473 trains on the challenge's sequential stream and
pr1855 / pr2135 on the packed stream; neither takes a seed, as in the records (#1473's TokenStream, #1855's
DocumentPackingLoader), so two ladder seeds differ in the init only. Only data.loader=shuffled follows train.seed
(the control below). Tiny models on the conftest shards; nothing trains."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest
import torch
from conftest import TEST_VOCAB

from pgolf.config import override
from pgolf.data.train_loader import build_loader
from pgolf.runtime.dist import init_runtime
from pgolf.train.run import build_model

ROOT = Path(__file__).resolve().parents[2]


def _proxy_ladder():
    spec = importlib.util.spec_from_file_location("proxy_ladder", ROOT / "benchmarks" / "proxy_ladder.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cfg(pl, name: str, seed: int, shard_dir: Path, tokenizer_path: Path):
    a = argparse.Namespace(data=shard_dir, tokenizer=tokenizer_path, warmdown=0, batch_tokens=1024, seed=seed,
                           eval_tokens=4096, ttt_batch_docs=4, ttt_prefix_docs=8, ttt_phase_chunk=2048,
                           overrides=[f"model.vocab_size={TEST_VOCAB}", "train.device=cpu"])
    return pl.ladder_config(name, 20, a)


def _first_batch(cfg, rt) -> torch.Tensor:
    loader = build_loader(cfg.data, cfg.model.vocab_size, cfg.train.seed, rt, bos_id=cfg.model.bos_id, prefetch=False)
    try:
        return loader.next_batch(cfg.train.batch_tokens, cfg.train.seq_len, 1)[0].clone()
    finally:
        loader.close()


@pytest.mark.parametrize(("name", "loader"), [("pr1473", "sequential"), ("pr1855", "packed"), ("pr2135", "packed")])
def test_seed_changes_the_init_not_the_data_order(name, loader, shard_dir, tokenizer_path):
    pl, rt = _proxy_ladder(), init_runtime("cpu")
    c1, c2 = (_cfg(pl, name, s, shard_dir, tokenizer_path) for s in (1337, 2024))
    assert (c1.train.seed, c2.train.seed, c1.data.loader) == (1337, 2024, loader)
    w1, w2 = (build_model(c, rt).state_dict() for c in (c1, c2))
    assert w1.keys() == w2.keys()
    differ = [k for k in w1 if not torch.equal(w1[k], w2[k])]
    # the randomly drawn tables and matrices differ; the constant-initialised ones (norm gains, zero-init
    # projections, scales) are equal by construction
    assert "tok_emb.weight" in differ and any(k.startswith("blocks.") for k in differ)
    assert all(torch.equal(w1[k], w2[k]) for k in w1 if k not in differ)
    assert torch.equal(_first_batch(c1, rt), _first_batch(c2, rt))  # the stream ignores the seed
    assert torch.equal(build_model(c1, rt).state_dict()["tok_emb.weight"], w1["tok_emb.weight"])  # reproducible


def test_only_the_shuffled_loader_follows_the_seed(shard_dir, tokenizer_path):
    pl, rt = _proxy_ladder(), init_runtime("cpu")
    c1, c2 = (override(_cfg(pl, "pr1473", s, shard_dir, tokenizer_path), {"data.loader": "shuffled"})
              for s in (1337, 2024))
    b1, b2 = _first_batch(c1, rt), _first_batch(c2, rt)
    assert b1.shape == b2.shape and not torch.equal(b1, b2)
