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

The #1855 layout (pgolf.eval.ttt_phased): a target may name a whole `attn` or `mlp` module instead of a
CastedLinear, giving a parallel adapter from that module's input (the normed block input) to its output (added
to the first element when the module returns a tuple), as #1855's O and MLP adapters; `head=(in, out)` adds an
adapter with no hook, applied by the caller to the final hidden state (`head_delta`, the LM-head adapter);
`a_init="per_slot"` draws A independently for every slot (#1855's per-document modules) instead of one shared A₀;
`reset(keep_a=True)` zeroes B only (warm-start A, #1767); `redraw()` draws a fresh A (new adapters after a global
TTT phase); `snapshot()` / `restore()` keep the warm A aside while a batch runs on fresh adapters.
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


def io_features(m: nn.Module) -> tuple[int, int] | None:
    """(in, out) of a module an adapter can wrap: a CastedLinear, or an attention / MLP module (parallel adapter)."""
    if isinstance(m, CastedLinear):
        return m.in_features, m.out_features
    first = getattr(m, "c_q", None) or getattr(m, "fc", None)
    last = getattr(m, "proj", None)
    if isinstance(first, CastedLinear) and isinstance(last, CastedLinear):
        return first.in_features, last.out_features
    return None


class LoRABank:
    def __init__(self, model: nn.Module, targets: tuple[str, ...], rank: int, alpha: float, slots: int,
                 seed: int, device: torch.device, a_init: str = "shared", head: tuple[int, int] | None = None):
        layers = [(n, m) for n, m in model.named_modules() if isinstance(m, CastedLinear)]
        named = dict(model.named_modules())
        self.layers = [(n, m) for n, m in named.items() if io_features(m) is not None
                       and any(n == t or n.endswith("." + t) for t in targets)]
        if not self.layers and targets:
            names = ", ".join(sorted({n.split(".", 2)[-1] for n, _ in layers})) or "none"
            raise PgolfError(f"eval.ttt.lora.targets={','.join(targets)}: matches no CastedLinear layer "
                             f"(available suffixes: {names}, attn, mlp)")
        self.scale = alpha / rank
        self.slots = slots
        self.rank = rank
        self.a_init = a_init
        self.gen = torch.Generator().manual_seed(seed)
        self.device = device
        self.passes = [passes_per_forward(model, n) for n, _ in self.layers]
        dims = [io_features(m) for _, m in self.layers]
        if head is not None:  # no hook: the caller adds head_delta(x) to the logits
            self.layers.append(("lm_head", None))
            self.passes.append(1)
            dims.append(head)
        self.dims = dims
        self.calls = [0] * len(self.layers)
        self.A0, self.A, self.B = [], [], []
        for (i, o), p in zip(dims, self.passes):
            self.A0.append(torch.empty(0))
            self.A.append(nn.Parameter(torch.empty(slots, p, i, rank, device=device)))
            self.B.append(nn.Parameter(torch.empty(slots, p, rank, o, device=device)))
        self.handles: list = []
        self.redraw()

    def _draw(self, i: int) -> Tensor:
        """U(±1/√in) draws: one (in, r) matrix shared by every slot and pass, or one per slot and pass."""
        n_in = self.dims[i][0]
        shape = (n_in, self.rank) if self.a_init == "shared" else tuple(self.A[i].shape)
        return ((torch.rand(shape, generator=self.gen) * 2 - 1) / n_in**0.5).to(self.device)

    @torch.no_grad()
    def redraw(self) -> None:
        """Fresh A₀ for every adapter (the next draws of the bank's generator), then reset()."""
        self.A0 = [self._draw(i) for i in range(len(self.layers))]
        self.reset()

    def snapshot(self) -> tuple[list[Tensor], list[Tensor]]:
        """(A, A₀) as they are now."""
        return [a.detach().clone() for a in self.A], list(self.A0)

    @torch.no_grad()
    def restore(self, saved: tuple[list[Tensor], list[Tensor]]) -> None:
        for a, s in zip(self.A, saved[0]):
            a.copy_(s)
        self.A0 = list(saved[1])

    def parameters(self) -> list[nn.Parameter]:
        return self.A + self.B

    def numel_per_slot(self) -> int:
        return sum(p[0].numel() for p in self.parameters())

    @torch.no_grad()
    def reset(self, keep_a: bool = False) -> None:
        """B = 0 (the adapters add exactly zero) and A = A₀, or A as it is when keep_a (warm start)."""
        for a0, a, b in zip(self.A0, self.A, self.B):
            if not keep_a:
                a.copy_(a0.expand_as(a))
            b.zero_()
            a.grad = b.grad = None
        self.calls = [0] * len(self.layers)

    def delta(self, i: int, x: Tensor, k: int = 0) -> Tensor:
        a, b = self.A[i][:, k].to(x.dtype), self.B[i][:, k].to(x.dtype)
        return self.scale * torch.bmm(torch.bmm(x, a), b)

    def head_delta(self, x: Tensor) -> Tensor:
        """The LM-head adapter's output for final hidden states x (slots, T, in)."""
        return self.delta(len(self.layers) - 1, x)

    def _hook(self, i: int):
        def hook(module: nn.Module, args: tuple, out: Tensor) -> Tensor:
            x = args[0]
            if x.dim() != 3 or x.size(0) != self.slots:
                raise RuntimeError(f"LoRA hook expects (slots={self.slots}, T, in) inputs, got {tuple(x.shape)}")
            k = self.calls[i]
            self.calls[i] = (k + 1) % self.passes[i]
            if isinstance(out, tuple):  # an attention module: (output, raw V)
                return (out[0] + self.delta(i, x, k).to(out[0].dtype),) + out[1:]
            return out + self.delta(i, x, k).to(out.dtype)

        return hook

    def attach(self) -> None:
        if not self.handles:
            self.handles = [m.register_forward_hook(self._hook(i)) for i, (_, m) in enumerate(self.layers)
                            if m is not None]

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
