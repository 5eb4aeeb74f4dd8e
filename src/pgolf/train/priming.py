"""Compile priming: run k full optimizer steps to warm up torch.compile, then restore everything.

The seeds run WARMUP_STEPS=20 steps and then reset the weights, the optimizer state and the data loader, so the
measured run starts from the true initialisation (SPEC_SEEDS.md §1.1). `snapshot`/`restore` are exact: after
priming the model, optimizers and loader are bitwise what they were before.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn


def snapshot(model: nn.Module, optimizers: list[torch.optim.Optimizer], loader) -> dict:
    return {
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optim": [copy.deepcopy(o.state_dict()) for o in optimizers],
        "loader": copy.deepcopy(loader.state()),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def restore(state: dict, model: nn.Module, optimizers: list[torch.optim.Optimizer], loader) -> None:
    model.load_state_dict(state["model"], strict=True)
    for o, s in zip(optimizers, state["optim"], strict=True):
        o.load_state_dict(s)
    loader.load_state(state["loader"])
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"] is not None:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    for o in optimizers:
        o.zero_grad(set_to_none=True)


def prime(steps: int, step_fn: Callable[[int], float], model: nn.Module, optimizers: list[torch.optim.Optimizer],
          loader, log=None) -> None:
    """Run `steps` training steps via step_fn(step) and restore the exact pre-priming state."""
    if steps <= 0:
        return
    state = snapshot(model, optimizers, loader)
    for i in range(steps):
        step_fn(i)
        if log is not None and (i + 1 == steps or (i + 1) % 10 == 0):
            log(f"priming step {i + 1}/{steps}")
    restore(state, model, optimizers, loader)


def priming_shapes(context, looping, model) -> list[tuple[int | None, bool | None]]:
    """The (sequence length, looping) graphs a run will use, each primed before the timer (#1855's loop warm-up,
    #2014's compile_shape_warmup 'auto' mode): per progressive-context stage (or the one train.seq_len: None), the
    loop states its progress span meets (or None without recurrence)."""
    stages = context.lengths() if context is not None else [(0.0, 1.0, None)]
    out: list[tuple[int | None, bool | None]] = []
    for start, end, seq in stages:
        if looping is None:
            modes = [None]
        elif looping.enable_at <= 0:
            modes = [True]
        else:
            modes = ([False] if start < looping.enable_at else []) + ([True] if end > looping.enable_at else [])
        for loop in modes:
            if (seq, loop) not in out:
                out.append((seq, loop))
    return out
