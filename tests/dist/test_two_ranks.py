"""On 2 gloo CPU ranks, the DDP path and the sharded-Muon path each equal the single-rank run after k steps.

Both runs see the same global batch per step (world × accum is fixed) and clip on the global gradient norm (the clip
binds: 0.05 is far below the norm of a fresh model's gradient). State tolerance: none — both paths are bitwise equal
to one rank, because averaging two g/2 terms is exact, every matrix is orthogonalised by one rank with the same
batched kernel, and the clip norm is summed in float64 (optim/clip.py) so the order of the partial sums across
ranks does not reach the fp32 coefficient. (With fp32 norm sums the sharded path drifted by ~1% of the weight
change after 3 steps: bf16 Newton–Schulz amplifies a last-bit difference in the clip coefficient.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pgolf.config import Config, from_dict, override, to_dict
from pgolf.data.loader import DistributedTokenLoader
from pgolf.runtime.dist import Runtime
from pgolf.train.distributed import setup_optimization
from pgolf.train.loop import make_step_fn
from pgolf.train.run import build_model

STEPS = 3


def train_steps(cfg: Config, rt: Runtime, steps: int = STEPS) -> dict[str, torch.Tensor]:
    """k optimizer steps of the tiny GPT on this rank; → the final state dict."""
    model = build_model(cfg, rt)
    opt = setup_optimization(model, model, cfg, rt)
    loader = DistributedTokenLoader(Path(cfg.data.path), rt.rank, rt.world_size, rt.device, cfg.model.vocab_size)
    accum = cfg.train.grad_accum // rt.world_size
    step = make_step_fn(model, opt.ddp, opt.optimizers, loader, cfg, rt, accum, list(model.parameters()),
                        grad_sync=opt.grad_sync)
    for i in range(steps):
        step(i, 1.0 - 0.2 * i)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank: int, world: int, cfg_dict: dict, out: str) -> None:
    torch.set_num_threads(1)
    # a file rendezvous: no TCP port to race for with other processes on the machine
    dist.init_process_group("gloo", init_method=f"file://{out}/rendezvous", rank=rank, world_size=world)
    try:
        rt = Runtime(rank=rank, world_size=world, local_rank=rank, device=torch.device("cpu"), distributed=True)
        for mode in ("ddp", "sharded"):
            cfg = override(from_dict(Config, cfg_dict), {"train.distribution": mode})
            state = train_steps(cfg, rt)
            if rank == 0:
                torch.save(state, Path(out) / f"{mode}.pt")
        dist.barrier()  # both ranks done with every collective before either tears gloo down (a lone exit aborted)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_rank_states(tmp_path_factory, shard_dir, tokenizer_path):
    cfg = override(Config(), {
        "model.vocab_size": 512, "model.num_layers": 2, "model.model_dim": 64, "model.num_heads": 4,
        "model.num_kv_heads": 2, "data.path": str(shard_dir), "data.tokenizer": str(tokenizer_path),
        "train.seq_len": 64, "train.batch_tokens": 512, "train.grad_accum": 2, "train.device": "cpu",
        "optim.grad_clip_norm": 0.05, "optim.muon_wd": 0.04, "optim.adam_wd": 0.02,
        "optim.muon_momentum_warmup_steps": 0,
    })
    out = tmp_path_factory.mktemp("two_ranks")
    mp.spawn(_worker, args=(2, to_dict(cfg), str(out)), nprocs=2, join=True)
    return cfg, {m: torch.load(out / f"{m}.pt") for m in ("ddp", "sharded")}


def _single(cfg: Config, mode: str) -> dict[str, torch.Tensor]:
    rt = Runtime(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), distributed=False)
    return train_steps(override(cfg, {"train.distribution": mode}), rt)


def test_ddp_two_ranks_equal_one_rank_bitwise(two_rank_states):
    cfg, states = two_rank_states
    ref = _single(cfg, "ddp")
    init = build_model(cfg, Runtime(0, 1, 0, torch.device("cpu"), False)).state_dict()
    for k, v in ref.items():
        assert not torch.equal(v, init[k]) or "proj" in k or v.ndim < 2, k  # training moved the weights
        assert torch.equal(states["ddp"][k], v), k


def test_sharded_two_ranks_equal_one_rank_bitwise(two_rank_states):
    cfg, states = two_rank_states
    for mode in ("sharded", "ddp"):  # the single-rank sharded path and the single-rank DDP path
        ref = _single(cfg, mode)
        for k, v in ref.items():
            assert torch.equal(states["sharded"][k], v), (mode, k)
