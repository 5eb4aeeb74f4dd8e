"""Deterministic tiny things the eval tests (and the 2-rank worker script) build identically in every process.

`_threads` overrides the suite's autouse fixture of the same name when a test module imports it: these tests run
tiny models, for which one intra-op thread is far faster than two (and far less sensitive to a busy machine).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgolf.config import ModelConfig
from pgolf.data.tokenizer import ByteLUT
from pgolf.eval.bpb import DeviceLUT
from pgolf.model.gpt import GPT

VOCAB = 64


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    yield


def tiny_model(seed: int = 0, layers: int = 2, dim: int = 32) -> GPT:
    """A small GPT with every weight perturbed (the zero-init projections would make it trivial)."""
    torch.manual_seed(seed)
    model = GPT(ModelConfig(num_layers=layers, model_dim=dim, num_heads=2, num_kv_heads=1, vocab_size=VOCAB))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model.eval()


def stream(n_tokens: int, seed: int = 0, docs: int = 10) -> np.ndarray:
    """Random ids 2..VOCAB−1 starting with BOS, with `docs − 1` more BOS (id 1) at random positions."""
    rng = np.random.default_rng(seed)
    t = rng.integers(2, VOCAB, n_tokens).astype(np.uint16)
    t[0] = 1
    if docs > 1:
        t[rng.choice(np.arange(2, n_tokens - 1), docs - 1, replace=False)] = 1
    return t


def tables(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 4, VOCAB).astype(np.int16)
    space = rng.random(VOCAB) < 0.5
    boundary = np.zeros(VOCAB, bool)
    boundary[:2] = True
    base[:2] = 0
    space[:2] = False
    return base, space, boundary


def lut(seed: int = 0, device: str = "cpu") -> DeviceLUT:
    return DeviceLUT(ByteLUT(*tables(seed)), torch.device(device))
