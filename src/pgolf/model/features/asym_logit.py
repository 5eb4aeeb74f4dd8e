"""AsymLogit: separate learned softcaps for positive and negative logits, trained only at test time.

Idea: the softcap c·tanh(z/c) bounds logits symmetrically; letting the positive side and the negative side have their
own cap lets the evaluation-time adaptation reshape the output distribution's tails cheaply (2 scalars, 8 bytes).
Source: openai/parameter-golf #1923 (`ASYM_LOGIT_RESCALE=1`), used by #1945 and #2135 (SPEC_FRONTIER.md §5.6).

Maths: z ↦ c₊·tanh(z/c₊) for z ≥ 0, c₋·tanh(z/c₋) otherwise; both initialised to `model.logit_softcap`
(30), so at init it equals the symmetric cap bit for bit.

Invariants (as #2135's code runs it):
  * the caps are 0-dim fp32 parameters on the GPT root, `softcap_pos` and `softcap_neg`;
  * TRAINING never touches them: the training objective (`GPT.forward`) uses the symmetric cap (#2135's fused CE
    takes the scalar `logit_softcap`), and they are built with requires_grad=False so the optimizer routing skips
    them and DDP sees no unused parameter. `TTT_ONLY` names them; `GPT.ttt_only_names()` lists the ones a model
    has. A TTT that adapts them (#2135: the global score-first SGD phase, scalar SGD group) sets requires_grad
    itself and restores it afterwards;
  * evaluation (`GPT.logits`, `GPT.token_losses`) applies them; export stores them as fp32 control tensors;
  * elementwise, so causal; the distribution stays a full softmax over the vocabulary (C2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

TTT_ONLY = ("softcap_pos", "softcap_neg")


@dataclass(frozen=True)
class AsymLogitConfig:
    """Separate softcaps for z ≥ 0 and z < 0, both initialised to model.logit_softcap (#1923)."""


def asym_softcap(z: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """c₊·tanh(z/c₊) where z ≥ 0, c₋·tanh(z/c₋) elsewhere (#2135's `torch.where` form)."""
    sp, sn = pos.to(z.dtype), neg.to(z.dtype)
    return torch.where(z >= 0, sp * torch.tanh(z / sp), sn * torch.tanh(z / sn))
