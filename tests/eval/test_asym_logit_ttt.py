"""AsymLogit on the TTT side (pgolf.eval.asym_logit): the head path equals the model's own logits, the asymmetric
cap follows #1923's rule, and only the global TTT phases train the two caps. The model side is stood in for by the
smallest module of the documented interface (`model.asym_logit`: fp32 pre-cap logits → capped logits)."""

from __future__ import annotations

import numpy as np
import torch
from _evalkit import _threads, lut, stream, tiny_model  # noqa: F401 (_threads: autouse)
from torch import nn

from pgolf.config import LoRATTTConfig, PhasedTTTConfig, TTTConfig
from pgolf.eval.asym_logit import asym_softcap, head_logits
from pgolf.eval.ttt_global import global_sgd_phase
from pgolf.eval.ttt_phased import eval_ttt_phased
from pgolf.runtime.dist import init_runtime


class AsymLogit(nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c_pos = nn.Parameter(torch.tensor(c))
        self.c_neg = nn.Parameter(torch.tensor(c))

    def forward(self, z):
        return asym_softcap(z, self.c_pos, self.c_neg)


def test_head_path_equals_the_models_logits():
    model = tiny_model()
    x = torch.from_numpy(stream(40).astype(np.int64))[None]
    with torch.no_grad():
        assert torch.equal(head_logits(model, model.hidden(x)), model.logits(x))


def test_asymmetric_cap_rule():
    z = torch.linspace(-80, 80, 161, dtype=torch.float64)
    got = asym_softcap(z, torch.tensor(20.0), torch.tensor(40.0))
    want = torch.tensor([20 * np.tanh(v / 20) if v >= 0 else 40 * np.tanh(v / 40) for v in z.tolist()],
                        dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-12)
    c = torch.tensor(30.0)
    assert torch.allclose(asym_softcap(z, c, c), 30 * torch.tanh(z / 30), atol=1e-12)


def test_only_global_phases_train_the_caps():
    rt = init_runtime("cpu")
    model = tiny_model()
    model.asym_logit = AsymLogit(model.cfg.logit_softcap)
    tok = stream(400, 2, 6)
    t = TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=3e-2, momentum=0.0, grad_clip=0.0,
                  lora=LoRATTTConfig(rank=2, targets=("attn", "mlp"), batch_docs=2, lm_head=True),
                  phased=PhasedTTTConfig(prefix_docs=0))
    plain = tiny_model()
    r_asym = eval_ttt_phased(model, tok, 32, t, lut(), rt)
    r_plain = eval_ttt_phased(plain, tok, 32, t, lut(), rt)
    assert r_asym.result.val_loss == r_plain.result.val_loss  # c₊ = c₋ = c, untouched by the LoRA pass
    seq = torch.from_numpy(tok.astype(np.int64))
    global_sgd_phase(model, seq, PhasedTTTConfig(lr=1.0, chunk_tokens=64, momentum=0.0), 32, rt, model.cfg.bos_id)
    assert model.asym_logit.c_pos.item() != 30.0 and model.asym_logit.c_neg.item() != 30.0
