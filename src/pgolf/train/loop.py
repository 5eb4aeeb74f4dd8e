"""The training loop: gradient-accumulated steps under a wallclock cap, schedules applied per step.

One step = `accum` micro-batches per rank (tokens per step do not depend on the world size), mean loss scaled by
1/accum, DDP gradient sync on the last micro-batch only, optional global grad clipping, LR scale and Muon momentum from
the pure schedules, then every optimizer steps. Training stops after the step on which the cap is first reached
(the flag is max-reduced across ranks) or at `iterations`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pgolf.config import Config
from pgolf.optim.schedule import lr_scale, muon_momentum
from pgolf.runtime.dist import Runtime, broadcast_flag
from pgolf.runtime.log import step_line
from pgolf.train.budget import TrainClock


@dataclass
class LoopResult:
    steps: int
    train_seconds: float
    last_loss: float
    stopped_by: str  # "iterations" | "wallclock"


def make_step_fn(model: nn.Module, ddp: nn.Module | None, optimizers: list[torch.optim.Optimizer], loader,
                 cfg: Config, rt: Runtime, accum: int, params: list[nn.Parameter]):
    """→ step(step_index, scale) that runs one full optimizer step and returns the mean micro-batch loss tensor."""
    t = cfg.train
    runner = ddp if ddp is not None else model

    def step(i: int, scale: float = 1.0) -> torch.Tensor:
        for o in optimizers:
            o.zero_grad(set_to_none=True)
        total = torch.zeros((), device=rt.device)
        for micro in range(accum):
            sync = ddp is None or micro == accum - 1
            ctx = contextlib.nullcontext() if sync else ddp.no_sync()
            x, y = loader.next_batch(t.batch_tokens, t.seq_len, accum)
            with ctx:
                with rt.autocast():
                    loss = runner(x, y)
                (loss / accum).backward()
            total += loss.detach()
        mu = muon_momentum(i, cfg)
        for o in optimizers:
            for g in o.param_groups:
                g["lr"] = g["base_lr"] * scale
                if "momentum" in g:
                    g["momentum"] = mu
        if cfg.optim.grad_clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip_norm)
        for o in optimizers:
            o.step()
        for o in optimizers:
            o.zero_grad(set_to_none=True)
        return total / accum

    return step


def train_loop(step_fn, cfg: Config, rt: Runtime, log, validate: Callable[[int], None] | None = None) -> LoopResult:
    t = cfg.train
    clock = TrainClock(rt.device)
    cap = t.max_wallclock_seconds
    tokens_per_step = t.batch_tokens
    step, last_loss, stopped_by = 0, float("nan"), "iterations"
    clock.start()
    last_t, last_step = 0.0, 0
    while step < t.iterations:
        if validate is not None and t.val_every > 0 and step > 0 and step % t.val_every == 0:
            clock.pause()
            validate(step)
            clock.start()
        scale = lr_scale(step, clock.elapsed(), cfg)
        loss = step_fn(step, scale)
        step += 1
        elapsed = clock.elapsed()
        reached = broadcast_flag(cap > 0 and elapsed >= cap, rt)
        if t.log_every > 0 and (step <= 5 or step % t.log_every == 0 or reached or step == t.iterations):
            last_loss = float(loss.item())
            elapsed = clock.elapsed()
            dt = max(elapsed - last_t, 1e-9) / max(step - last_step, 1)
            log(step_line(step, t.iterations, last_loss, scale, 1000 * dt, tokens_per_step / dt, elapsed, cap))
            log.metrics(step=step, loss=last_loss, lr_scale=scale, ms_per_step=1000 * dt, elapsed_s=elapsed)
            last_t, last_step = elapsed, step
        if reached:
            stopped_by = "wallclock"
            break
    clock.pause()
    if last_loss != last_loss and step > 0:  # never logged: read the final loss once
        last_loss = float(loss.item())
    return LoopResult(steps=step, train_seconds=clock.banked, last_loss=last_loss, stopped_by=stopped_by)
