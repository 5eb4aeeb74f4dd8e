"""Sharded Muon and the gradient sync of the no-DDP path: reduce-scatter, orthogonalise the owned shard, all-gather.

Without DDP every rank holds its own (un-averaged) gradients after the micro-steps. `GradSync.reduce()` then
  * averages the gradients of every non-Muon parameter with one coalesced all-reduce, and
  * reduce-scatters each Muon bucket (same-shape matrices stacked, padded to a multiple of W): rank r receives the
    averaged gradients of matrices [r·N/W, (r+1)·N/W) — its shard.
Clipping uses the *global* gradient norm: √(Σ replicated ‖g‖² + all-reduce Σ shard ‖g‖²), after reduction — not the
per-rank norm #1473 clipped (SPEC_SEEDS.md §6.15); see optim/clip.py.
`ShardedMuon.step()` keeps momentum for its shard only (fp32, unlike #1473's bf16), orthogonalises the shard as one
batch and all-gathers the bf16 updates; every rank then applies every update (identical weights, no broadcast).
Sums are SUM then ÷W (exact for W a power of two), the same on gloo and NCCL. Source: openai/parameter-golf PR #1473
("Parallel Muon", after modded-nanogpt). Invariant: equals the single-rank DDP-path step up to reduction order.
The stacked gradients and the shard live in persistent per-bucket fp32 buffers (one copy of the Muon gradients, not
optimizer state: never checkpointed). State: the shard momentum lives in `state[first param of bucket]["shard_momentum"]`, so a checkpoint of this
optimizer is per rank and resumes only at the same world size.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from pgolf.optim.clip import clip_global_
from pgolf.optim.muon import Muon, apply_update_, buckets, nesterov_, world_and_rank


class ShardedMuon(Muon):
    """Muon whose gradients arrive by reduce-scatter (call `reduce_scatter()` after backward, before `step()`)."""

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        self._buckets = [ps for g in self.param_groups for ps in buckets(list(g["params"]))]
        self._shards: list[Tensor] = []
        self._works: list = []
        self._bufs: list[tuple[Tensor, Tensor]] = []  # per bucket: (padded fp32 stack, shard), allocated once

    def _buffers(self, world: int) -> list[tuple[Tensor, Tensor]]:
        """Persistent fp32 buffers: each bucket's gradients stacked and padded to a multiple of W (the pad rows stay
        zero), and the shard they reduce-scatter into — no allocation, concatenation or padding copy per step."""
        if not self._bufs:
            for ps in self._buckets:
                shape = ps[0].shape[-2:]
                n = sum(p.numel() // shape.numel() for p in ps)
                per = -(-n // world)
                full = torch.zeros(per * world, *shape, dtype=torch.float32, device=ps[0].device)
                self._bufs.append((full, full if world == 1 else full.new_empty(per, *shape)))
        return self._bufs

    def reduce_scatter(self) -> None:
        world, _ = world_and_rank()
        self._shards, self._works = [], []
        for ps, (full, shard) in zip(self._buckets, self._buffers(world)):
            off = 0
            for p in ps:
                n = p.numel() // (p.size(-2) * p.size(-1))
                if p.grad is None:
                    full[off : off + n].zero_()
                else:
                    full[off : off + n].copy_(p.grad.reshape(n, *full.shape[1:]))
                off += n
            if world > 1:
                self._works.append(dist.reduce_scatter_tensor(shard, full, op=dist.ReduceOp.SUM, async_op=True))
            self._shards.append(shard)

    def wait(self) -> list[Tensor]:
        """Finish the reduce-scatters; → the averaged gradient shards (one per bucket)."""
        world, _ = world_and_rank()
        for w in self._works:
            w.wait()
        if self._works:
            for s in self._shards:
                s.div_(world)
        self._works = []
        return self._shards

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("ShardedMuon.step takes no closure")
        world, _ = world_and_rank()
        shards = self.wait()
        if len(shards) != len(self._buckets):
            raise RuntimeError("ShardedMuon.step() without reduce_scatter() after backward")
        group_of = {id(p): g for g in self.param_groups for p in g["params"]}
        pending = []
        for ps, g in zip(self._buckets, shards):
            group = group_of[id(ps[0])]
            state = self.state[ps[0]]
            if "shard_momentum" not in state:
                state["shard_momentum"] = torch.zeros_like(g)
            d = self._direction(nesterov_(state["shard_momentum"], g, group["momentum"], group["nesterov"]), group)
            if world == 1:
                pending.append((ps, group, d, None))
                continue
            full = d.new_empty(d.size(0) * world, *d.shape[1:])
            pending.append((ps, group, full, dist.all_gather_into_tensor(full, d.contiguous(), async_op=True)))
        for ps, group, full, work in pending:
            if work is not None:
                work.wait()
            apply_update_(ps, full, group["lr"], group["weight_decay"])
        self._shards = []
        return None


class GradSync:
    """Gradient averaging and global-norm clipping for the no-DDP (sharded) path."""

    def __init__(self, replicated: list[Tensor], muon: ShardedMuon | None):
        self.replicated = list(replicated)
        self.muon = muon

    def reduce(self) -> None:
        world, _ = world_and_rank()
        if self.muon is not None:
            self.muon.reduce_scatter()
        grads = [p.grad for p in self.replicated if p.grad is not None]
        if world > 1 and grads:
            flat = torch.cat([g.reshape(-1).float() for g in grads])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat.div_(world)
            off = 0
            for g in grads:
                g.copy_(flat[off : off + g.numel()].view_as(g))
                off += g.numel()

    def clip_(self, max_norm: float) -> Tensor:
        """Scale every gradient (replicated and shards) by the global clip coefficient (optim/clip.py)."""
        rep = [p.grad for p in self.replicated if p.grad is not None]
        shards = self.muon.wait() if self.muon is not None else []
        return clip_global_(rep, max_norm, sharded=shards)
