"""Muon: Nesterov momentum, Newton–Schulz orthogonalisation, shape scale, decoupled weight decay.

Per 2-D parameter with gradient G (SPEC_SEEDS.md §1.4): buf ← μ·buf + G; U = G + μ·buf (Nesterov);
X = U/(‖U‖_F + 1e-7) in bf16, transposed if rows > cols, then 5× A = XXᵀ, X ← aX + (bA + cA²)X with
(a, b, c) = (3.4445, −4.7750, 2.0315); U ← X·√max(1, rows/cols); p ← p·(1 − lr·wd) − lr·U.
Across ranks, parameter i is orthogonalised by rank i mod W and the flat bf16 updates are summed (the baseline's
round-robin). Source: modded-nanogpt (Keller Jordan) via the challenge baseline.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

NS5 = (3.4445, -4.7750, 2.0315)


def newton_schulz5(G: Tensor, steps: int = 5, eps: float = 1e-7) -> Tensor:
    """Approximately orthogonalise a 2-D matrix (bf16 iteration, result in bf16)."""
    a, b, c = NS5
    X = G.bfloat16()
    X = X / (X.norm() + eps)
    transposed = G.size(0) > G.size(1)
    if transposed:
        X = X.T
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    return X.T if transposed else X


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr: float, momentum: float, ns_steps: int = 5, nesterov: bool = True,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, ns_steps=ns_steps, nesterov=nesterov,
                                      weight_decay=weight_decay))
        self.orthogonalize = newton_schulz5

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        distributed = dist.is_available() and dist.is_initialized()
        world = dist.get_world_size() if distributed else 1
        rank = dist.get_rank() if distributed else 0
        for group in self.param_groups:
            params = group["params"]
            if not params:
                continue
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            flat = torch.zeros(sum(p.numel() for p in params), device=params[0].device, dtype=torch.bfloat16)
            off = 0
            for i, p in enumerate(params):
                if i % world == rank and p.grad is not None:
                    g = p.grad
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(g)
                    buf = state["momentum_buffer"]
                    buf.mul_(mu).add_(g)
                    if group["nesterov"]:
                        g = g.add(buf, alpha=mu)
                    u = self.orthogonalize(g, steps=group["ns_steps"])
                    u = u * max(1.0, g.size(0) / g.size(1)) ** 0.5
                    flat[off : off + p.numel()] = u.reshape(-1)
                off += p.numel()
            if distributed:
                dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            off = 0
            for p in params:
                u = flat[off : off + p.numel()].view_as(p).to(p.dtype)
                if wd:
                    p.mul_(1.0 - lr * wd)
                p.add_(u, alpha=-lr)
                off += p.numel()
        return loss
