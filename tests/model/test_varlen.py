"""VarLen document-isolated attention: the mask against a naive double loop, the model's packed forward against
each document run alone (naive per-document attention), causality across documents, the kernel choice, the config
check, and the trainer feeding the packed loader's cu_seqlens (a tiny run on the conftest shards)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _modelkit import build  # the shared perturbed-GPT builder

from pgolf.config import ModelConfig, override, validate
from pgolf.data.packed import cu_seqlens_of
from pgolf.errors import PgolfError
from pgolf.model.features.varlen import resolve_varlen_kernel, varlen_attention, varlen_mask
from pgolf.model.gpt import GPT

BASE = ModelConfig(num_layers=4, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0,
                   rope_dims=4)
FULL = override(BASE, {"varlen": {"kernel": "masked"}, "recurrence": {"loop_start": 1, "loop_end": 1,
                                                                        "num_loops": 1, "enable_at": 0.0},
                       "parallel_residual": {"start_layer": 3}, "skip_gates": "on", "xsa": "on",
                       "smear_gate": {"kind": "gated", "window": 4}, "attn_gate": {"kind": "sparse", "window": 4}})
BOS = 1




def docs_stream(lengths, seed=4):
    g = torch.Generator().manual_seed(seed)
    docs = [torch.cat([torch.tensor([BOS]), torch.randint(2, 64, (n - 1,), generator=g)]) for n in lengths]
    return docs, torch.cat(docs)


def test_mask_against_a_naive_loop():
    cu = torch.tensor([0, 3, 7, 7, 12, 12, 12, 12], dtype=torch.int32)  # padded by repeating N = 12
    m = varlen_mask(cu, 12)
    seg = [0] * 3 + [1] * 4 + [2] * 5
    want = torch.tensor([[j <= i and seg[i] == seg[j] for j in range(12)] for i in range(12)])
    assert torch.equal(m, want)


def test_attention_equals_each_segment_alone():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 20, h, 8, generator=g) for h in (4, 2, 2))
    cu = torch.tensor([0, 6, 15, 20, 20], dtype=torch.int32)
    y = varlen_attention(q, k, v, cu, 20)  # the exact masked path
    for s, e in ((0, 6), (6, 15), (15, 20)):
        ref = F.scaled_dot_product_attention(q[:, s:e].transpose(1, 2), k[:, s:e].transpose(1, 2),
                                             v[:, s:e].transpose(1, 2), is_causal=True, enable_gqa=True)
        torch.testing.assert_close(y[:, s:e], ref.transpose(1, 2), rtol=0, atol=1e-6)


@pytest.mark.parametrize("cfg", [override(BASE, {"varlen": "on"}), FULL], ids=["plain", "frontier-stack"])
def test_packed_forward_equals_each_document_alone(cfg):
    model = build(cfg)
    docs, flat = docs_stream([9, 17, 5, 33])
    x = flat.view(4, 16)  # packed as the loader does: rows of T = 16, documents crossing rows
    cu, mx, _ = cu_seqlens_of(x.flatten().numpy(), BOS, 64, 8)
    packed = model.logits(x, cu_seqlens=torch.from_numpy(cu), max_seqlen=64).reshape(-1, 64)
    start = 0
    for d in docs:
        n = d.numel()
        alone = model.logits(d[None, :n])[0]  # naive: the document as its own sequence, positions from 0
        torch.testing.assert_close(packed[start:start + n], alone, rtol=0, atol=2e-5)
        start += n


def test_no_attention_across_documents():
    model = build(FULL)
    _, flat = docs_stream([20, 24, 20])
    x = flat.view(2, 32)
    cu = torch.from_numpy(cu_seqlens_of(x.flatten().numpy(), BOS, 64, 8)[0])
    y = x.clone().flatten()
    y[25:40] = (y[25:40] + 5) % 62 + 2  # change the middle document only (no BOS created)
    a = model.logits(x, cu_seqlens=cu, max_seqlen=64).reshape(64, -1)
    b = model.logits(y.view(2, 32), cu_seqlens=cu, max_seqlen=64).reshape(64, -1)
    assert torch.equal(a[:25], b[:25]) and torch.equal(a[44:], b[44:])  # docs before AND after: bitwise
    assert not torch.allclose(a[25:44], b[25:44])


def test_kernel_choice_is_explicit():
    kernel, note = resolve_varlen_kernel("auto", on_cuda=False)
    assert kernel == "masked" and "CPU" in note
    assert resolve_varlen_kernel("masked", on_cuda=True)[0] == "masked"
    with pytest.raises(PgolfError, match="model.varlen.kernel"):  # asking for FA3 where it cannot run
        resolve_varlen_kernel("fa3", on_cuda=False)
    with pytest.raises(ValueError, match="model.varlen is off"):
        build(BASE).logits(torch.zeros(1, 4, dtype=torch.long), cu_seqlens=torch.tensor([0, 4], dtype=torch.int32))


def test_config_needs_the_packed_loader(tiny_cfg):
    with pytest.raises(PgolfError, match="model.varlen"):
        validate(override(tiny_cfg, {"model.varlen": "on", "data.loader": "sequential"}))


def test_trainer_feeds_cu_seqlens(tiny_cfg, tmp_path, monkeypatch):
    from pgolf.train.run import run

    seen = []
    orig = GPT.forward

    def spy(self, idx, targets, cu_seqlens=None, max_seqlen=0):
        seen.append((None if cu_seqlens is None else cu_seqlens.numel(), max_seqlen, tuple(idx.shape)))
        return orig(self, idx, targets, cu_seqlens, max_seqlen)

    monkeypatch.setattr(GPT, "forward", spy)
    cfg = override(tiny_cfg, {"model.varlen": "on", "data.loader": "packed", "train.iterations": 2})
    run(cfg, tmp_path, echo=False)
    assert seen and all(c is not None and c % 64 == 0 and m == cfg.train.seq_len for c, m, _ in seen)
    assert "varlen attention: exact masked SDPA path (CPU)" in (tmp_path / "train.log").read_text()
