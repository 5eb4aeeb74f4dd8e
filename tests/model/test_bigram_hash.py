"""BigramHash (model/features/bigram_hash.py): zero-init identity, a live gradient only through the orthogonal
projection, BOS isolation with `reset_at_bos`, and the published bucket formula."""

from __future__ import annotations

import pytest
import torch
from _modelkit import PLAIN, bos_seq, randomized, tokens, with_changes

from pgolf.model.features.bigram_hash import BigramHashConfig, BigramHashEmbedding, bigram_buckets
from pgolf.model.gpt import GPT


@pytest.mark.parametrize("name,changes", [
    ("bigram_hash", {"model.bigram_hash": {"buckets": 37, "dim": 8}}),
    ("bigram_hash_no_proj", {"model.bigram_hash": {"buckets": 37, "dim": 32}}),
])
def test_zero_init_identity(name, changes):
    """At its own init the BigramHash branch outputs exactly 0: the model equals the plain one with shared weights."""
    plain = randomized(GPT(PLAIN))
    torch.manual_seed(3)
    model = GPT(with_changes(changes))
    model.load_state_dict(plain.state_dict(), strict=False)
    idx = tokens()
    assert torch.equal(model.logits(idx), plain.logits(idx))


def test_bigram_branch_gradient_is_alive_only_with_a_nonzero_half():
    """The seeds' trap: zero table and zero projection → no gradient ever; our init makes the projection orthogonal."""
    model = GPT(with_changes({"model.bigram_hash": {"buckets": 37, "dim": 8}}))
    assert not model.bigram.embed.weight.any() and model.bigram.proj.weight.any()
    idx = tokens()
    model(idx, idx).backward()
    assert model.bigram.embed.weight.grad.abs().sum() > 0
    dead = GPT(with_changes({"model.bigram_hash": {"buckets": 37, "dim": 8}}))
    with torch.no_grad():
        dead.bigram.proj.weight.zero_()
    dead(idx, idx).backward()
    assert not dead.bigram.embed.weight.grad.any() and not dead.bigram.proj.weight.grad.any()


@pytest.mark.parametrize("reset", [True, False])
def test_bos_isolation_bigram_hash(reset):
    big = BigramHashEmbedding(BigramHashConfig(buckets=37, dim=8, reset_at_bos=reset), 8, bos_id=PLAIN.bos_id)
    with torch.no_grad():
        big.embed.weight.normal_()
    a, b = bos_seq(11), bos_seq(12)
    assert torch.equal(big(a)[:, 7:], big(b)[:, 7:]) is reset
    assert bigram_buckets(a, 37, PLAIN.bos_id)[0, 7].item() == 36  # BOS gets the "no previous token" bucket


def test_bigram_hash_matches_the_published_formula():
    t = torch.tensor([[5, 1000, 3, 1023]])
    want = [2047] + [((36313 * c) ^ (27191 * p)) % 2047 for p, c in zip([5, 1000, 3], [1000, 3, 1023])]
    assert bigram_buckets(t, 2048).tolist() == [want]
