"""The FA3 branch of varlen attention (pgolf.model.features.varlen), run on CPU against a stand-in that enforces
`flash_attn_interface.flash_attn_varlen_func`'s contract: q (total, H, D) and k/v (total, Hkv, D) in fp16/bf16 with
H a multiple of Hkv, cu_seqlens int32 from 0 to total, non-decreasing, no segment longer than max_seqlen, causal.
It computes the reference in fp32 (each segment alone) and returns bf16 as FA3 does, so what is tested is pgolf's
side of the call: layout, dtype, argument names, the output's shape and order, gradients through it — in the
attention function, in the model (trainer's packed batch) and in the TTT global phase's flat rows. No GPU here:
FA3's own numerics are measured by benchmarks/varlen_check.py on a device."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _modelkit import build  # the shared perturbed-GPT builder

from pgolf.config import ModelConfig, override
from pgolf.data.packed import cu_seqlens_of
from pgolf.model.features import varlen
from pgolf.model.features.varlen import varlen_attention

BOS = 1
CFG = override(ModelConfig(num_layers=4, model_dim=32, num_heads=4, num_kv_heads=2, vocab_size=64, mlp_mult=2.0,
                           rope_dims=4),
               {"varlen": "on", "xsa": "on", "skip_gates": "on",
                "recurrence": {"loop_start": 1, "loop_end": 1, "num_loops": 1, "enable_at": 0.0}})


class FakeFA3:
    """flash_attn_varlen_func's contract, checked on every call; counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, q, k, v, *, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, causal):
        self.calls += 1
        assert q.dim() == k.dim() == v.dim() == 3, "FA3 varlen takes (total, heads, head_dim)"
        assert q.dtype in (torch.bfloat16, torch.float16) and k.dtype == v.dtype == q.dtype
        assert q.stride(-1) == k.stride(-1) == v.stride(-1) == 1, "last dim must be contiguous"
        assert q.size(0) == k.size(0) == v.size(0) and k.shape == v.shape and q.size(2) == k.size(2)
        assert q.size(1) % k.size(1) == 0, "heads must be a multiple of kv heads"
        assert cu_seqlens_q is cu_seqlens_k and cu_seqlens_q.dtype == torch.int32 and cu_seqlens_q.dim() == 1
        assert cu_seqlens_q.device == q.device
        assert isinstance(max_seqlen_q, int) and max_seqlen_q == max_seqlen_k and causal is True
        cu = cu_seqlens_q.tolist()
        assert cu[0] == 0 and cu[-1] == q.size(0) and all(a <= b for a, b in zip(cu, cu[1:]))
        assert max(b - a for a, b in zip(cu, cu[1:])) <= max_seqlen_q, "a segment longer than max_seqlen"
        parts = []
        for a, b in zip(cu, cu[1:]):
            if b > a:
                qs, ks, vs = (t[a:b].float().transpose(0, 1)[None] for t in (q, k, v))
                parts.append(F.scaled_dot_product_attention(qs, ks, vs, is_causal=True,
                                                            enable_gqa=True)[0].transpose(0, 1))
        out = torch.cat(parts)
        return out.to(q.dtype), None  # (out, softmax_lse) as older FA3 builds return


def bf16_exact(*shape, g):
    return torch.randn(*shape, generator=g).to(torch.bfloat16).float()  # the cast to bf16 then loses nothing


def test_attention_fa3_branch_equals_masked_path():
    g = torch.Generator().manual_seed(0)
    q, k, v = bf16_exact(1, 40, 4, 8, g=g), bf16_exact(1, 40, 2, 8, g=g), bf16_exact(1, 40, 2, 8, g=g)
    cu = torch.tensor([0, 6, 15, 31, 40, 40, 40, 40], dtype=torch.int32)  # padded by repeating N, as the loader
    fa3 = FakeFA3()
    y = varlen_attention(q, k, v, cu, 16, fa3)
    ref = varlen_attention(q, k, v, cu, 16)  # the exact masked path, fp32
    assert fa3.calls == 1 and y.shape == ref.shape and y.dtype == q.dtype
    # the only difference is FA3's bf16 output: at most one bf16 rounding (relative 2^-8) of each value
    torch.testing.assert_close(y, ref, rtol=2 ** -8, atol=1e-6)


@pytest.fixture
def fa3_model(monkeypatch):
    fake = FakeFA3()
    monkeypatch.setattr(varlen, "_fa3_varlen", lambda: fake)  # stands in for flash_attn_interface
    model = build(CFG)
    assert model.resolve_varlen(on_cuda=True) == "varlen attention: FA3 flash_attn_varlen_func"
    return model, fake


def test_model_trains_through_the_fa3_branch(fa3_model):
    model, fake = fa3_model
    g = torch.Generator().manual_seed(3)
    docs = [torch.cat([torch.tensor([BOS]), torch.randint(2, 64, (n - 1,), generator=g)]) for n in (9, 17, 5, 33)]
    x = torch.cat(docs).view(4, 16)
    cu, _, _ = cu_seqlens_of(x.flatten().numpy(), BOS, 32, 8)
    cu = torch.from_numpy(cu)
    logits = model.logits(x, cu_seqlens=cu, max_seqlen=32)
    assert fake.calls == len(model.schedule()[0])  # one call per virtual layer (the loop is on)
    loss = F.cross_entropy(logits.reshape(-1, 64).float(), torch.roll(x, -1).flatten())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    model.resolve_varlen(on_cuda=False, choice="masked")
    masked = model.logits(x, cu_seqlens=cu, max_seqlen=32)
    assert fake.calls == len(model.schedule()[0])  # the masked path does not call it
    # bf16 attention outputs inside an fp32 model: far below a layout error (which moves logits by O(1))
    assert (logits - masked).abs().max().item() < 0.05 * masked.abs().max().item()


def test_ttt_global_phase_calls_fa3_with_its_contract(fa3_model):
    from pgolf.config import PhasedTTTConfig
    from pgolf.eval.ttt_global import phase_loss  # the global phase's flat rows, cu_seqlens at BOS
    from pgolf.runtime.dist import init_runtime

    model, fake = fa3_model
    g = torch.Generator().manual_seed(5)
    seq = torch.randint(2, 64, (4 * 16 + 1,), generator=g)
    seq[[0, 21, 40, 47]] = BOS
    phase_loss(model, seq, 16, PhasedTTTConfig(), init_runtime("cpu"), BOS).backward()
    assert fake.calls == len(model.schedule()[0])
