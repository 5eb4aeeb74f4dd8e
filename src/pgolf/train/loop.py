"""The training loop: gradient-accumulated steps under a wallclock cap, schedules applied per step.

One step = `accum` micro-batches per rank (tokens per step do not depend on the world size), each loss scaled by
1/accum; under QAT the forward/backward see the fake-quantized weights (train/qat.py). Gradients are then global:
DDP syncs on the last micro-batch, or, without DDP, `GradSync` all-reduces / reduce-scatters them (optim/sharded.py).
Clipping uses the global norm (after that reduction). LR scale, weight-decay scale and Muon momentum come from the
pure schedules; then every optimizer steps. After the step: weight averaging (EMA/SWA), logging, a checkpoint when
due. Training stops after the step on which the cap is first reached (max-reduced across ranks) or at `iterations`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pgolf.config import Config
from pgolf.optim.clip import clip_global_
from pgolf.optim.schedule import lr_scale, muon_momentum, progress, wd_scale
from pgolf.runtime.dist import Runtime, broadcast_flag
from pgolf.runtime.log import eta_seconds, step_line
from pgolf.train.budget import TrainClock


@dataclass
class LoopResult:
    steps: int
    train_seconds: float
    last_loss: float
    stopped_by: str  # "iterations" | "wallclock"


@dataclass
class Hooks:
    """Optional per-step participants of the loop (all may be None)."""

    model: nn.Module | None = None
    averager: object | None = None  # EMA | SWA: update(model, step, lr_scale) after each step
    qat: object | None = None  # late switch checked before each step
    checkpointer: object | None = None  # save(step, elapsed, parts) when due
    looping: object | None = None  # recurrence.LoopSwitch: maybe_switch_on(progress) checked before each step
    context: object | None = None  # progressive_context.ContextSchedule: update(step, progress) before each step
    parts: object | None = None  # checkpoint.Resumable
    start_step: int = 0
    start_elapsed: float = 0.0
    flops_per_token: float = 0.0  # model training FLOPs/token (pgolf.model.flops) and the device's dense bf16 peak:
    peak_flops: float = 0.0  # with both known the step line shows the MFU


def make_step_fn(model: nn.Module, ddp: nn.Module | None, optimizers: list[torch.optim.Optimizer], loader,
                 cfg: Config, rt: Runtime, accum: int, params: list[nn.Parameter], grad_sync=None, qat=None,
                 context=None):
    """→ step(step_index, scale, wd_mult) that runs one full optimizer step and returns the mean micro-batch loss.
    `context` (train/progressive_context.ContextSchedule) gives the current sequence length; else train.seq_len."""
    t, o = cfg.train, cfg.optim
    runner = ddp if ddp is not None else model
    tapered = set(cfg.schedule.wd_taper.groups) if cfg.schedule.wd_taper is not None else set()
    varlen = cfg.model.varlen is not None  # validated: the loader is then the packed one (next_packed)

    def step(i: int, scale: float = 1.0, wd_mult: float = 1.0) -> torch.Tensor:
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        total = torch.zeros((), device=rt.device)
        with qat.applied() if qat is not None else contextlib.nullcontext():
            for micro in range(accum):
                sync = ddp is None or micro == accum - 1
                ctx = contextlib.nullcontext() if sync else ddp.no_sync()
                seq = t.seq_len if context is None else context.seq_len
                if varlen:  # document-isolated attention (model/features/varlen.py): the packed loader's cu_seqlens
                    b = loader.next_packed(t.batch_tokens, seq, accum)
                    x, y, kw = b.x, b.y, {"cu_seqlens": b.cu_seqlens, "max_seqlen": seq}
                else:
                    x, y = loader.next_batch(t.batch_tokens, seq, accum)
                    kw = {}
                with ctx:
                    with rt.autocast():
                        loss = runner(x, y, **kw)
                    (loss / accum).backward()
                total += loss.detach()
        mu = muon_momentum(i, o.muon_momentum, o.muon_momentum_warmup_start, o.muon_momentum_warmup_steps)
        for opt in optimizers:
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * scale
                if "momentum" in g:
                    g["momentum"] = mu
                if "base_wd" in g and "weight_decay" in g and g.get("pgolf_group") in tapered:
                    g["weight_decay"] = g["base_wd"] * wd_mult
        if grad_sync is not None:
            grad_sync.reduce()
            if o.grad_clip_norm > 0:
                grad_sync.clip_(o.grad_clip_norm)
        elif o.grad_clip_norm > 0:
            clip_global_([p.grad for p in params if p.grad is not None], o.grad_clip_norm)
        for opt in optimizers:
            opt.step()
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        return total / accum

    return step


def train_loop(step_fn, cfg: Config, rt: Runtime, log, validate: Callable[[int], None] | None = None,
               hooks: Hooks | None = None) -> LoopResult:
    t = cfg.train
    h = hooks or Hooks()
    clock = TrainClock(rt.device)
    clock.banked = h.start_elapsed
    cap = t.max_wallclock_seconds
    tokens_per_step = t.batch_tokens
    step, last_loss, stopped_by = h.start_step, float("nan"), "iterations"
    loss = None
    clock.start()
    last_t, last_step = h.start_elapsed, step
    while step < t.iterations:
        if validate is not None and t.val_every > 0 and step > 0 and step % t.val_every == 0:
            clock.pause()
            validate(step)
            clock.start()
        elapsed = clock.elapsed()
        scale = lr_scale(step, elapsed, cfg.schedule, t.iterations, cap)
        if h.qat is not None and h.qat.maybe_switch_on(scale):
            log(f"QAT on at step {step} (lr scale {scale:.3f} < {h.qat.late_threshold})")
        p = progress(step, elapsed, t.iterations, cap)
        if h.looping is not None and h.looping.maybe_switch_on(p):
            log(f"looping on at step {step} (progress {p:.3f})")
        if h.context is not None:
            if h.context.update(step, p):
                log(f"context {h.context.seq_len} from step {step} (progress {p:.3f})")
            scale *= h.context.lr_factor(step)
        loss = step_fn(step, scale, wd_scale(step, elapsed, cfg.schedule.wd_taper, t.iterations, cap))
        step += 1
        if h.averager is not None and h.averager.update(h.model, step, scale):
            log(f"{h.averager.kind.upper()} first snapshot after step {step} (lr scale {scale:.3f})")
        elapsed = clock.elapsed()
        reached = broadcast_flag(cap > 0 and elapsed >= cap, rt)
        if t.log_every > 0 and (step <= 5 or step % t.log_every == 0 or reached or step == t.iterations):
            last_loss = float(loss.item())
            elapsed = clock.elapsed()
            dt = max(elapsed - last_t, 1e-9) / max(step - last_step, 1)
            eta = eta_seconds(step, t.iterations, dt, elapsed, cap)
            mfu = h.flops_per_token * tokens_per_step / dt / h.peak_flops if h.peak_flops > 0 else None
            log(step_line(step, t.iterations, last_loss, scale, 1000 * dt, tokens_per_step / dt, elapsed, cap,
                          eta, mfu))
            log.metrics(step=step, loss=last_loss, lr_scale=scale, ms_per_step=1000 * dt, elapsed_s=elapsed,
                        **({"mfu": mfu} if mfu is not None else {}))
            last_t, last_step = elapsed, step
        if reached:
            stopped_by = "wallclock"
            break
        if h.checkpointer is not None and step < t.iterations and h.checkpointer.due(step):
            clock.pause()
            path = h.checkpointer.save(step, clock.banked, h.parts)
            log(f"checkpoint {path} (step {step}, {clock.banked:.1f} s counted)")
            clock.start()
    clock.pause()
    if last_loss != last_loss and loss is not None:  # never logged: read the final loss once
        last_loss = float(loss.item())
    return LoopResult(steps=step, train_seconds=clock.banked, last_loss=last_loss, stopped_by=stopped_by)
