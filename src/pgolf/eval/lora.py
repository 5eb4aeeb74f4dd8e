"""Batched LoRA adapters attached to the model's own CastedLinear layers through forward hooks.

For a wrapped layer y = W x, the hook returns y + (α/r)·(x A_b) B_b, where b is the batch row: every row of the
batch (one document each) has its own A_b ∈ R^{in×r}, B_b ∈ R^{r×out}. Stored as (slots, in, r) and (slots, r, out)
tensors and applied with two bmm, so documents side by side never share an adapter: the loss of row b depends
only on (A_b, B_b), and an elementwise optimizer (SGD, AdamW) with per-slot clipping keeps them independent.
`reset()` puts every slot back to A = A₀ (one fixed draw, U(±1/√in), the same for every document) and B = 0, at
which point the hooks add exactly zero. `detach()` removes the hooks; the model's weights are never touched.
Source: #1530's document-independent batched LoRA TTT (SPEC_FRONTIER.md §5.3). Adds no bytes to the artifact.

Depth recurrence (pgolf.model.features.recurrence): a block that runs P times per forward gets P adapters per
document, one per VIRTUAL slot, as #1855 allocates them (17 at 11 layers): stored as (slots, P, in, r), and the
hook uses adapter p on its p-th call of the forward (a counter per layer, modulo P, zeroed by `reset()`). P is read
from the model's schedule when the bank is built, so the bank must be built after looping is set for eval.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

from pgolf.errors import PgolfError
from pgolf.model.layers import CastedLinear


def passes_per_forward(model: nn.Module, name: str) -> int:
    """How often the layer `name` runs in one forward: its block's count in the model's current virtual schedule."""
    m = re.match(r"blocks\.(\d+)\.", name)
    if m is None or not hasattr(model, "schedule"):
        return 1
    return max(1, model.schedule()[0].count(int(m.group(1))))


class LoRABank:
    def __init__(self, model: nn.Module, targets: tuple[str, ...], rank: int, alpha: float, slots: int,
                 seed: int, device: torch.device):
        layers = [(n, m) for n, m in model.named_modules() if isinstance(m, CastedLinear)]
        self.layers = [(n, m) for n, m in layers if any(n == t or n.endswith("." + t) for t in targets)]
        if not self.layers:
            names = ", ".join(sorted({n.split(".", 2)[-1] for n, _ in layers})) or "none"
            raise PgolfError(f"eval.ttt.lora.targets={','.join(targets)}: matches no CastedLinear layer "
                             f"(available suffixes: {names})")
        self.scale = alpha / rank
        self.slots = slots
        g = torch.Generator().manual_seed(seed)
        self.passes = [passes_per_forward(model, n) for n, _ in self.layers]
        self.calls = [0] * len(self.layers)
        self.A0, self.A, self.B = [], [], []
        for (_, m), p in zip(self.layers, self.passes):
            a0 = (torch.rand(m.in_features, rank, generator=g) * 2 - 1) / m.in_features**0.5
            self.A0.append(a0.to(device))
            self.A.append(nn.Parameter(torch.empty(slots, p, m.in_features, rank, device=device)))
            self.B.append(nn.Parameter(torch.empty(slots, p, rank, m.out_features, device=device)))
        self.handles: list = []
        self.reset()

    def parameters(self) -> list[nn.Parameter]:
        return self.A + self.B

    def numel_per_slot(self) -> int:
        return sum(p[0].numel() for p in self.parameters())

    @torch.no_grad()
    def reset(self) -> None:
        for a0, a, b in zip(self.A0, self.A, self.B):
            a.copy_(a0.expand_as(a))
            b.zero_()
            a.grad = b.grad = None
        self.calls = [0] * len(self.layers)

    def _hook(self, i: int):
        def hook(module: nn.Module, args: tuple, out: Tensor) -> Tensor:
            x = args[0]
            if x.dim() != 3 or x.size(0) != self.slots:
                raise RuntimeError(f"LoRA hook expects (slots={self.slots}, T, in) inputs, got {tuple(x.shape)}")
            k = self.calls[i]
            self.calls[i] = (k + 1) % self.passes[i]
            a, b = self.A[i][:, k].to(x.dtype), self.B[i][:, k].to(x.dtype)
            return out + self.scale * torch.bmm(torch.bmm(x, a), b).to(out.dtype)

        return hook

    def attach(self) -> None:
        if not self.handles:
            self.handles = [m.register_forward_hook(self._hook(i)) for i, (_, m) in enumerate(self.layers)]

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    @torch.no_grad()
    def clip_per_slot_(self, max_norm: float) -> None:
        """Scale each slot's gradients to a norm ≤ max_norm (slots stay independent)."""
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if not grads or max_norm <= 0:
            return
        sq = sum(g.float().pow(2).flatten(1).sum(1) for g in grads)
        factor = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(factor.to(g.dtype).view(-1, *([1] * (g.dim() - 1))))
