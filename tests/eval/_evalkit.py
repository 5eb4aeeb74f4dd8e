"""Deterministic tiny things the eval tests (and the 2-rank worker script) build identically in every process.

`_threads` overrides the suite's autouse fixture of the same name when a test module imports it: these tests run
tiny models, for which one intra-op thread is far faster than two (and far less sensitive to a busy machine).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pgolf.config import LoRATTTConfig, ModelConfig, TTTConfig, override
from pgolf.data.tokenizer import ByteLUT
from pgolf.eval.bpb import DeviceLUT
from pgolf.model.gpt import GPT
from pgolf.recipes import get_recipe, tiny

VOCAB = 64
BOS = ModelConfig().bos_id  # the document separator stream() writes: tiny_model's cfg.bos_id


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
    """Random ids 2..VOCAB−1 starting with BOS, with `docs − 1` more BOS (id 1, `BOS`) at random positions."""
    rng = np.random.default_rng(seed)
    t = rng.integers(2, VOCAB, n_tokens).astype(np.uint16)
    t[0] = BOS
    if docs > 1:
        t[rng.choice(np.arange(2, n_tokens - 1), docs - 1, replace=False)] = BOS
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


# ---------------------------------------------------------------- a random model, stream and byte tables scored by
# a brute-force loop (test_eval_standard.py, test_eval_sliding.py)


@pytest.fixture(scope="module", name="setup")
def brute_setup(tmp_path_factory):
    """(model, tokens, lut, (base, space, boundary)): a random 2-layer GPT, 1,000 random ids, random byte tables."""
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


def window_brute(model, tokens, T, stride, tables):
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


# ---------------------------------------------------------------- models of the seed recipes' techniques, and the TTT
# settings they are evaluated with (test_eval_ttt.py, test_eval_run.py)
TECH_FULL = TTTConfig(chunk_tokens=64, epochs=1, lr=0.05, batch_seqs=2, lr_schedule="constant")
TECH_LORA = TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=0.02, lora=LoRATTTConfig(rank=2, batch_docs=2))


def technique_model(name: str, **changes) -> GPT:
    cfg = override(tiny(get_recipe(name).build()), {"model.vocab_size": VOCAB, "model.model_dim": 64, **changes})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()
