"""Chunked softcapped cross-entropy (pgolf.kernels.softcap_ce) against its eager twin and a float64 reference:
loss and gradients, every reduction, ragged chunks, bf16 logits, in the model, and under torch.compile(fullgraph)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from pgolf.config import Config, ModelConfig, override
from pgolf.kernels.softcap_ce import SoftcapCEConfig, softcap_cross_entropy, softcap_cross_entropy_eager
from pgolf.model.gpt import GPT


def reference(z: torch.Tensor, y: torch.Tensor, cap: float) -> torch.Tensor:
    """Per-row NLL written out in float64: −log softmax(c·tanh(z/c))[y]."""
    s = cap * torch.tanh(z.double() / cap)
    return -(s - s.logsumexp(-1, keepdim=True)).gather(1, y[:, None]).squeeze(1)


def case(n: int = 37, v: int = 50, seed: int = 0, scale: float = 40.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, v, generator=g) * scale  # large enough that the cap bends the logits
    y = torch.randint(0, v, (n,), generator=g)
    return z, y


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [0, 1, 8, 37, 1000])
def test_loss_and_grad_equal_the_eager_twin(reduction, chunk):
    z, y = case()
    w = torch.rand(37) if reduction == "none" else None  # a non-uniform upstream gradient
    outs = []
    for fn in (lambda a: softcap_cross_entropy(a, y, 30.0, reduction, chunk_rows=chunk),
               lambda a: softcap_cross_entropy_eager(a, y, 30.0, reduction)):
        a = z.clone().requires_grad_(True)
        loss = fn(a)
        (loss * w).sum().backward() if w is not None else loss.backward()
        outs.append((loss.detach(), a.grad))
    (l1, g1), (l2, g2) = outs
    assert torch.allclose(l1, l2, rtol=1e-6, atol=1e-6)
    assert torch.allclose(g1, g2, rtol=1e-5, atol=1e-7)
    ref = reference(z, y, 30.0)
    want = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    assert torch.allclose(l1.double(), want, rtol=1e-6, atol=1e-6)


def test_grad_against_float64_autograd():
    z, y = case(n=9, v=13, seed=1, scale=60.0)
    a = z.double().requires_grad_(True)
    reference(a, y, 30.0).mean().backward()
    b = z.clone().requires_grad_(True)
    softcap_cross_entropy(b, y, 30.0, chunk_rows=4).backward()
    assert torch.allclose(b.grad.double(), a.grad, rtol=1e-5, atol=1e-8)


def test_bf16_logits_keep_their_dtype_and_match_the_eager_twin():
    z, y = case(seed=2)
    zb = z.bfloat16()
    grads = []
    for fn in (lambda a: softcap_cross_entropy(a, y, 30.0, chunk_rows=5),
               lambda a: softcap_cross_entropy_eager(a, y, 30.0)):
        a = zb.clone().requires_grad_(True)
        fn(a).backward()
        grads.append(a.grad)
    assert grads[0].dtype == torch.bfloat16
    assert torch.allclose(grads[0].float(), grads[1].float(), rtol=1e-2, atol=1e-6)  # one bf16 rounding each


def test_auto_chunks_are_a_fixed_number_of_elements_by_device():
    from pgolf.kernels.softcap_ce import CPU_CHUNK_ELEMENTS, CUDA_CHUNK_ELEMENTS, auto_chunk_rows

    assert auto_chunk_rows(1024, torch.device("cpu")) == CPU_CHUNK_ELEMENTS // 1024
    assert auto_chunk_rows(8192, torch.device("cuda")) == CUDA_CHUNK_ELEMENTS // 8192
    assert auto_chunk_rows(10**9, torch.device("cpu")) == 1


def test_bad_arguments_are_refused():
    z, y = case()
    with pytest.raises(ValueError, match="softcap"):
        softcap_cross_entropy(z, y, 0.0)
    with pytest.raises(ValueError, match="reduction"):
        softcap_cross_entropy(z, y, 30.0, "avg")
    with pytest.raises(ValueError, match="chunk_rows"):
        softcap_cross_entropy(z, y, 30.0, chunk_rows=-1)


def test_model_with_the_block_equals_the_model_without():
    """`model.softcap_ce` present: the same weights give the same loss, per-token losses and gradients."""
    cfg = ModelConfig(num_layers=2, model_dim=32, num_heads=2, num_kv_heads=1, vocab_size=64)
    torch.manual_seed(0)
    a = GPT(cfg)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    b = GPT(replace(cfg, softcap_ce=SoftcapCEConfig(chunk_rows=7)))
    b.load_state_dict(a.state_dict())
    x = torch.randint(0, 64, (3, 16))
    y = torch.randint(0, 64, (3, 16))
    la, lb = a(x, y), b(x, y)
    la.backward()
    lb.backward()
    assert torch.allclose(la, lb, rtol=1e-6)
    eager = torch.nn.functional.cross_entropy(a.logits(x).reshape(-1, 64), y.reshape(-1), reduction="none")
    assert torch.allclose(a.token_losses(x, y), eager.view(3, 16), rtol=1e-6, atol=1e-6)  # always chunked
    assert torch.allclose(b.token_losses(x, y), eager.view(3, 16), rtol=1e-6, atol=1e-6)
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa.grad, pb.grad, rtol=1e-4, atol=1e-7), n


def test_compiles_with_fullgraph():
    """torch.compile(fullgraph=True) traces the autograd.Function and its chunk loop without a graph break
    (aot_eager: Dynamo + AOTAutograd, no C++ toolchain needed); same loss and gradient as eager."""
    torch._dynamo.reset()
    z, y = case(n=24, v=32, seed=3)
    fn = torch.compile(lambda a, t: softcap_cross_entropy(a, t, 30.0, chunk_rows=10), fullgraph=True,
                       backend="aot_eager")
    a = z.clone().requires_grad_(True)
    loss = fn(a, y)
    loss.backward()
    b = z.clone().requires_grad_(True)
    ref = softcap_cross_entropy_eager(b, y, 30.0)
    ref.backward()
    assert torch.allclose(loss, ref, rtol=1e-6) and torch.allclose(a.grad, b.grad, rtol=1e-5, atol=1e-7)


def test_the_block_is_switched_on_by_override():
    cfg = override(Config(), {"model.softcap_ce.chunk_rows": 4096})
    assert cfg.model.softcap_ce == SoftcapCEConfig(chunk_rows=4096)
    assert Config().model.softcap_ce is None
