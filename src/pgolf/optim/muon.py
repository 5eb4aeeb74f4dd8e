"""Muon: Nesterov momentum, Newton–Schulz orthogonalisation, shape scale, decoupled weight decay.

Per matrix with gradient G (SPEC_SEEDS.md §1.4): buf ← μ·buf + G; U = G + μ·buf (Nesterov; U = buf without);
X = U/(‖U‖_F + 1e-7) in bf16, transposed if rows > cols, then per iteration k: A = XXᵀ, X ← a_k·X + (b_k·A + c_k·A²)·X
(each of the two sums fused into one addmm, as torch.optim.Muon does: one bf16 rounding instead of three; the seeds
round A² first, which doubles the distance to the fp32 iteration, 3% vs 1.5% on random matrices);
U ← X·√max(1, rows/cols) (in bf16, as the seeds do); p ← p·(1 − lr·wd) − lr·U with lr the *scheduled* LR.

Coefficients: stock NS5 (3.4445, −4.7750, 2.0315) every step (modded-nanogpt, all five seeds), or the Polar Express
per-step minimax tuples (PR #1344 → #1787; SPEC_FRONTIER.md §3.2; at most 5 steps).
Row-normalised variants: "after_ns" divides each row of the scaled update by its L2 norm (#601; the shape scale
then cancels), "before_ns" divides each row of the Nesterov update before NS (MuonEq-R, #1217 → #1285 → #1787).

Same-shape matrices are orthogonalised as one batch (`bucket` = all matrices of one (rows, cols); a 3-D parameter
such as a #1473 bank counts as a stack of matrices). Across ranks (the DDP path: gradients already averaged) every
rank keeps the full momentum, orthogonalises matrices j ≡ rank (mod W) of each bucket and the bf16 updates are
summed with one all-reduce per bucket — the seeds' round-robin, batched. The sharded path is in `sharded.py`.
Invariant: the result does not depend on the world size (each matrix is computed by one rank with the same kernel).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import Tensor

NS5 = (3.4445, -4.7750, 2.0315)
# Polar Express (Amsel et al. 2025) per-iteration tuples as used by openai/parameter-golf PR #1787 (from #1344).
POLAR_EXPRESS = (
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
)
ROW_NORMS = ("none", "after_ns", "before_ns")

Coeffs = tuple[tuple[float, float, float], ...]


def ns_coefficients(kind: str, steps: int) -> Coeffs:
    """The (a, b, c) tuple of every iteration: 'ns5' repeats NS5; 'polar_express' takes the first `steps` tuples."""
    if kind == "ns5":
        return (NS5,) * steps
    if kind == "polar_express":
        if not 1 <= steps <= len(POLAR_EXPRESS):
            raise ValueError(f"polar_express has {len(POLAR_EXPRESS)} tuples; got {steps} steps")
        return POLAR_EXPRESS[:steps]
    raise ValueError(f"unknown Newton–Schulz kind {kind!r}")


def orthogonalize(G: Tensor, coeffs: Coeffs, eps: float = 1e-7) -> Tensor:
    """Approximately orthogonalise the matrices in the last two dims of G (bf16 iteration, bf16 result)."""
    X = G.bfloat16()
    transposed = X.size(-2) > X.size(-1)
    if transposed:
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + eps)
    mm = torch.addmm if X.ndim == 2 else torch.baddbmm
    for a, b, c in coeffs:
        A = X @ X.mT
        B = mm(A, A, A, beta=b, alpha=c)  # b·A + c·A², one rounding (torch.optim.Muon's form)
        X = mm(X, B, X, beta=a)  # a·X + B·X
    return X.mT if transposed else X


def newton_schulz5(G: Tensor, steps: int = 5, eps: float = 1e-7) -> Tensor:
    """The seeds' NS5 on one matrix or a stack of matrices."""
    return orthogonalize(G, (NS5,) * steps, eps)


def row_normalize(U: Tensor, eps: float = 1e-7) -> Tensor:
    """Each row (last dim) divided by its L2 norm (computed in fp32, clamped at eps); dtype kept."""
    u = U.float()
    return (u / u.norm(dim=-1, keepdim=True).clamp_min(eps)).to(U.dtype)


def shape_scale(rows: int, cols: int) -> float:
    return max(1.0, rows / cols) ** 0.5


def muon_direction(U: Tensor, coeffs: Coeffs, row_norm: str = "none",
                   ortho: Callable[[Tensor, Coeffs], Tensor] = orthogonalize) -> Tensor:
    """Nesterov update U (..., rows, cols) → the bf16 step direction (multiply by −lr to apply)."""
    if row_norm == "before_ns":
        U = row_normalize(U)
    X = ortho(U, coeffs)
    X = X * shape_scale(U.size(-2), U.size(-1))
    if row_norm == "after_ns":
        X = row_normalize(X)
    return X


def nesterov_(buf: Tensor, g: Tensor, mu: float, nesterov: bool) -> Tensor:
    """buf ← μ·buf + g in place; → g + μ·buf (Nesterov) or buf."""
    buf.mul_(mu).add_(g)
    return g.add(buf, alpha=mu) if nesterov else buf


def buckets(params: list[Tensor]) -> list[list[Tensor]]:
    """Parameters grouped by matrix shape (last two dims), dtype and device; order of first appearance."""
    out: dict[tuple, list[Tensor]] = {}
    for p in params:
        out.setdefault((tuple(p.shape[-2:]), p.dtype, p.device), []).append(p)
    return list(out.values())


def stack(ts: list[Tensor]) -> Tensor:
    """Matrices of 2-D and 3-D tensors of one shape → (N, rows, cols)."""
    return torch.cat([t.reshape(-1, *t.shape[-2:]) for t in ts])


def apply_update_(params: list[Tensor], update: Tensor, lr: float, wd: float) -> None:
    """p ← p·(1 − lr·wd) − lr·U for each parameter's slice of the stacked bf16 update."""
    off = 0
    for p in params:
        n = p.numel() // (p.size(-2) * p.size(-1))
        u = update[off : off + n].view_as(p).to(p.dtype)
        if wd:
            p.mul_(1.0 - lr * wd)
        p.add_(u, alpha=-lr)
        off += n


def world_and_rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class Muon(torch.optim.Optimizer):
    """Muon for 2-D (and stacked 3-D) parameters; replicated state, round-robin orthogonalisation across ranks."""

    def __init__(self, params, lr: float, momentum: float, ns_steps: int = 5, nesterov: bool = True,
                 weight_decay: float = 0.0, ns: str = "ns5", row_norm: str = "none"):
        if row_norm not in ROW_NORMS:
            raise ValueError(f"row_norm must be one of {ROW_NORMS}, got {row_norm!r}")
        ns_coefficients(ns, ns_steps)  # validates
        super().__init__(params, dict(lr=lr, momentum=momentum, ns_steps=ns_steps, nesterov=nesterov,
                                      weight_decay=weight_decay, ns=ns, row_norm=row_norm))
        for g in self.param_groups:
            for p in g["params"]:
                if p.ndim not in (2, 3):
                    raise ValueError(f"Muon takes 2-D matrices or 3-D stacks of them, got shape {tuple(p.shape)}")
        self.orthogonalize = orthogonalize  # run.py may swap in a torch.compile'd twin

    def _direction(self, U: Tensor, group: dict) -> Tensor:
        coeffs = ns_coefficients(group["ns"], group["ns_steps"])
        return muon_direction(U, coeffs, group["row_norm"], self.orthogonalize)

    def _nesterov_stack(self, ps: list[Tensor], group: dict) -> Tensor:
        us = []
        for p in ps:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p.grad)
            us.append(nesterov_(state["momentum_buffer"], p.grad, group["momentum"], group["nesterov"]))
        return stack(us)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        world, rank = world_and_rank()
        for group in self.param_groups:
            pending = []
            for ps in buckets([p for p in group["params"] if p.grad is not None]):
                U = self._nesterov_stack(ps, group)
                if world == 1:
                    pending.append((ps, self._direction(U, group), None))
                    continue
                full = torch.zeros(U.shape, device=U.device, dtype=torch.bfloat16)
                if rank < U.size(0):
                    full[rank::world] = self._direction(U[rank::world], group)
                pending.append((ps, full, dist.all_reduce(full, op=dist.ReduceOp.SUM, async_op=True)))
            for ps, update, work in pending:
                if work is not None:
                    work.wait()
                apply_update_(ps, update, group["lr"], group["weight_decay"])
        return loss
