"""How one step's gradients become global on 1..N ranks (torchrun, one or many nodes): the two paths.

`ddp` (default): the model is wrapped in DistributedDataParallel (gradients averaged on the last micro-batch), every
rank runs every optimizer; Muon orthogonalises matrix j of each same-shape bucket on rank j mod W and all-reduces
the bf16 updates (the seeds' round-robin).
`sharded`: no DDP. Every rank starts from rank 0's weights (broadcast once); after the micro-batches `GradSync`
all-reduces the non-Muon gradients and reduce-scatters the Muon buckets; `ShardedMuon` keeps momentum for its
shard only, orthogonalises it and all-gathers the updates (#1473's Parallel Muon, without its bf16 momentum and
per-rank clipping). Both paths clip the global gradient and give the single-rank step (tests/dist).
Tokens per step never depend on W: each rank runs train.grad_accum / W micro-batches of the global batch.
Launch: `torchrun --standalone --nproc-per-node 8 -m pgolf train --recipe R [train.distribution=sharded]`; across
nodes `torchrun --nnodes N --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:PORT -m pgolf train ...`
(runtime/dist.py reads RANK/WORLD_SIZE/LOCAL_RANK; NCCL on CUDA, gloo on CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from pgolf.optim.muon import Muon, orthogonalize
from pgolf.optim.routing import build_optimizers
from pgolf.optim.sharded import GradSync, ShardedMuon


@dataclass
class Optimization:
    ddp: nn.Module | None
    optimizers: list[torch.optim.Optimizer]
    groups: dict
    grad_sync: GradSync | None
    sharded: bool

    def describe(self) -> str:
        return "sharded Muon, no DDP" if self.sharded else "DDP" if self.ddp is not None else "single rank"


def setup_optimization(model: nn.Module, runner: nn.Module, cfg, rt) -> Optimization:
    """Wrap (DDP) or synchronise (sharded) the model and build the routed optimizers for this rank."""
    t = cfg.train
    sharded = t.distribution == "sharded"
    ddp = None
    if rt.distributed and not sharded:
        ddp = DDP(runner, device_ids=[rt.local_rank] if rt.is_cuda else None, broadcast_buffers=False)
    elif rt.distributed:
        with torch.no_grad():
            for v in model.state_dict().values():
                torch.distributed.broadcast(v, src=0)
    optimizers, groups = build_optimizers(model, cfg.optim, cfg.model.tie_embeddings, fused=rt.is_cuda, sharded=sharded)
    for o in optimizers:
        if isinstance(o, Muon) and rt.is_cuda and t.compile:
            o.orthogonalize = torch.compile(orthogonalize, dynamic=False)
    grad_sync = None
    if sharded:
        muon = next((o for o in optimizers if isinstance(o, ShardedMuon)), None)
        replicated = [p for o in optimizers if o is not muon for g in o.param_groups for p in g["params"]]
        grad_sync = GradSync(replicated, muon)
    return Optimization(ddp, optimizers, groups, grad_sync, sharded)
