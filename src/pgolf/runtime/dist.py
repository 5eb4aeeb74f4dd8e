"""Distributed runtime: torchrun detection, device choice, precision — the only module that reads os.environ.

Under torchrun (RANK, WORLD_SIZE, LOCAL_RANK set) one process runs per device and a process group is created
(NCCL on CUDA, gloo on CPU). Without torchrun the run is single-process. Everything else asks `Runtime` instead of
the environment.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from pgolf.errors import PgolfError


@dataclass(frozen=True)
class Runtime:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    distributed: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        """bf16 autocast on CUDA, a no-op (fp32) on CPU."""
        if self.is_cuda:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def describe(self) -> str:
        kind = torch.cuda.get_device_name(self.device) if self.is_cuda else "cpu"
        prec = "bf16 autocast" if self.is_cuda else "fp32"
        return f"device {self.device} ({kind}) | world {self.world_size} | {prec}"


def torchrun_env() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) when launched by torchrun, else None."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    try:
        rank = int(os.environ["RANK"])
        world = int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise PgolfError(f"torchrun environment: RANK/WORLD_SIZE/LOCAL_RANK must be integers ({e})") from None
    if world <= 0 or not 0 <= rank < world:
        raise PgolfError(f"torchrun environment: RANK={rank} WORLD_SIZE={world} is not a valid rank/world pair")
    return rank, world, local


def env_flag(name: str) -> str | None:
    """Read one environment variable (for the few knobs that belong to the process, e.g. PGOLF_CACHE)."""
    return os.environ.get(name)


def init_runtime(device: str = "auto") -> Runtime:
    """Create the process group if under torchrun and pick the device.

    device: "auto" (CUDA if available, else CPU), "cpu", or "cuda".
    """
    tr = torchrun_env()
    rank, world, local = tr if tr is not None else (0, 1, 0)
    want_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise PgolfError("--device cuda: no CUDA device is visible to this process")
    if want_cuda:
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        dev = torch.device("cpu")
    distributed = tr is not None and world > 1
    if distributed and not dist.is_initialized():
        backend = "nccl" if want_cuda else "gloo"
        if want_cuda:
            dist.init_process_group(backend=backend, device_id=dev)
        else:
            dist.init_process_group(backend=backend)
    return Runtime(rank=rank, world_size=world, local_rank=local, device=dev, distributed=distributed)


def shutdown(rt: Runtime, failed: bool = False) -> None:
    """Leave the process group together: rank 0 hosts the TCP store, so a rank that tears down after rank 0 has
    exited aborts ("terminate called without an active exception"); the barrier makes every rank finish first.

    A rank that failed must not enter that barrier: the others are inside a training collective, and a barrier
    matched against it would hang or mix buffers. It leaves at once; its exit closes its connections, so the peers'
    pending collective fails within seconds instead of waiting for the process-group timeout (issue 16)."""
    if rt.distributed and dist.is_initialized():
        if not failed:
            dist.barrier()
        dist.destroy_process_group()


def peer_failure(e: BaseException, rt: Runtime) -> PgolfError | None:
    """A collective that failed because another rank went away → one clear line for this rank; else None."""
    if not rt.distributed or not isinstance(e, RuntimeError) or isinstance(e, PgolfError):
        return None
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    words = ("connection", "closed", "peer", "timed out", "timeout", "gloo", "nccl", "broken pipe", "reset")
    if not any(w in text.lower() for w in words):
        return None
    return PgolfError(f"rank {rt.rank}/{rt.world_size}: a collective failed because another rank stopped (its own "
                      f"error line says why); exiting — {text[:160]}")


def all_reduce_(t: torch.Tensor, rt: Runtime, op=dist.ReduceOp.SUM) -> torch.Tensor:
    if rt.distributed:
        dist.all_reduce(t, op=op)
    return t


def broadcast_flag(flag: bool, rt: Runtime) -> bool:
    """True on every rank if it is true on any (used for the wallclock stop)."""
    if not rt.distributed:
        return flag
    t = torch.tensor(int(flag), device=rt.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
