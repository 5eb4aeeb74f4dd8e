"""The LM head as TTT runs it: adapters on the logits, and the model's softcap, symmetric or AsymLogit (#1923).

AsymLogit (SPEC_FRONTIER.md §5.6) caps positive and negative logits with separate learned scalars,
c₊·tanh(z/c₊) for z ≥ 0 and c₋·tanh(z/c₋) otherwise, both initialised at the model's softcap (so it starts as the
plain c·tanh(z/c)). In #2135 they are "trained only by TTT": the training optimizers leave them alone and the
global SGD phases of phased TTT (pgolf.eval.ttt_global, which trains every parameter) adapt them, while the
per-document LoRA pass keeps them frozen like every base weight.

Interface with the model side (smallest one; the parameters live in the model): a model with AsymLogit has a
module `model.asym_logit` whose forward maps fp32 pre-cap logits to capped logits; a model without it has no
such attribute (or None) and uses its `cfg.logit_softcap`. `head_logits` is the one place TTT computes logits
from the final hidden state, so an LM-head adapter (#1855's lm_head LoRA) lands before the cap, as in the record.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def asym_softcap(z: Tensor, c_pos: Tensor, c_neg: Tensor) -> Tensor:
    """c₊·tanh(z/c₊) where z ≥ 0, c₋·tanh(z/c₋) elsewhere (#1923's rule; the reference for the model side)."""
    cp, cn = c_pos.to(z.dtype), c_neg.to(z.dtype)
    return torch.where(z >= 0, cp * torch.tanh(z / cp), cn * torch.tanh(z / cn))


def softcap(model: nn.Module, z: Tensor) -> Tensor:
    """The model's cap on fp32 logits: its AsymLogit module when it has one, else c·tanh(z/c)."""
    asym = getattr(model, "asym_logit", None)
    if asym is not None:
        return asym(z)
    c = model.cfg.logit_softcap
    return c * torch.tanh(z / c)


def head_logits(model: nn.Module, x: Tensor, delta: Tensor | None = None) -> Tensor:
    """Capped fp32 logits from final hidden states x (the tied embedding or the untied head, + an adapter delta)."""
    lm_head = getattr(model, "lm_head", None)
    z = F.linear(x, model.tok_emb.weight) if lm_head is None else lm_head(x)
    if delta is not None:
        z = z + delta.to(z.dtype)
    return softcap(model, z.to(torch.promote_types(z.dtype, torch.float32)))
