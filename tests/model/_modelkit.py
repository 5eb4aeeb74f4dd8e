"""Small things the model tests share: the 4-layer plain config every technique is compared against, builders that
move a model off its zero-init point, seeded token batches, and the two-document BOS sequence."""

from __future__ import annotations

import torch

from pgolf.config import ModelConfig, override
from pgolf.model.gpt import GPT

PLAIN = ModelConfig(num_layers=4, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0)
V = PLAIN.vocab_size
BOS = PLAIN.bos_id
# the attention-kernel and initialisation tests' wider model
SMALL = ModelConfig(num_layers=4, model_dim=64, num_heads=4, num_kv_heads=2, vocab_size=96, mlp_mult=2.0)
# the frontier gates' blocks (model.attn_gate.kind=sparse, model.smear_gate.kind=gated) and both at once
SPARSE = {"attn_gate": {"kind": "sparse", "window": 12, "scale": 0.5}}
GATED = {"smear_gate": {"kind": "gated"}}
BOTH = {**SPARSE, **GATED, "bigram_hash": {"buckets": 37, "dim": 8}}


def with_changes(changes: dict) -> ModelConfig:
    return override(PLAIN, {k.removeprefix("model."): v for k, v in changes.items()})


def randomized(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def tokens(B=2, T=24, seed=1):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def bos_seq(before_seed: int) -> torch.Tensor:
    """[random previous document …, BOS at 7, the same document after]."""
    idx = tokens(B=1, T=16, seed=9)
    idx[:, :7] = tokens(B=1, T=7, seed=before_seed)
    idx[:, 7] = PLAIN.bos_id
    idx[:, 8:] = torch.where(idx[:, 8:] == PLAIN.bos_id, 2, idx[:, 8:])
    return idx


# ---------------------------------------------------------------- the 6-layer lane / recurrence / skip-gate tests


def build(cfg: ModelConfig, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(cfg)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # move off the zero-init / identity point so every path matters
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def short_tokens(B=2, T=16, seed=3):
    """Token batches of the 64-id vocabulary, 16 long by default."""
    return torch.randint(0, 64, (B, T), generator=torch.Generator().manual_seed(seed))


def assert_causal(model: torch.nn.Module) -> None:
    """Changing the tokens from position t on (a BOS at 5) leaves every earlier loss bitwise equal and moves a later
    one, for t in 1, 9, 23 of a 24-token batch."""
    idx, tgt = tokens(T=24), tokens(T=24, seed=2)
    idx[:, 5] = BOS
    base = model.token_losses(idx, tgt)
    for t in (1, 9, 23):
        pert = idx.clone()
        pert[:, t:] = (pert[:, t:] + 1 + torch.arange(24 - t)) % V
        out = model.token_losses(pert, tgt)
        assert torch.equal(out[:, :t], base[:, :t])
        assert not torch.equal(out[:, t:], base[:, t:])
