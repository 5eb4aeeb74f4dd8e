"""`pgolf bench`: how fast one training step of a recipe runs here, and how close to the device's peak.

Builds the recipe's model and optimizers exactly as `pgolf train` does (same compile policy: `torch.compile` when
`train.compile` and CUDA), feeds synthetic uniform tokens of the recipe's batch shape (no data needed: the step's
compute does not depend on the token values; late QAT, off at the start of a run, is not switched on), and measures
on one rank:
* compile: the wall time of the first step (compilation + first run; "warmup" when compile is off);
* ms/step: the median of `steps` timed steps after two warmup steps (device synchronised around each), tokens/s;
* FLOPs/token from the config (`pgolf.model.flops`, attention counted full and causal), achieved FLOP/s, MFU against
  the dense bf16 peak of the device (`pgolf.runtime.devices`; none on CPU: FLOP/s only);
* peak memory: CUDA max allocated, or on CPU the process's peak resident set (ru_maxrss);
* dynamo: graph breaks (with the first reason), graphs compiled, and recompiles (graphs compiled after warmup);
  the model compiles with fullgraph=True as in training (a break there is an error, not a count), so the break count
  covers the other compiled code (Muon's orthogonalize);
* the split: `split_steps` extra steps timed phase by phase — forward, backward, optimizer (clip + every step).
The training log prints the same FLOPs/token and peak at start and MFU in its step lines (`pgolf.model.flops`).
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass

import torch
from torch._dynamo.utils import counters

from pgolf.model.flops import flops_summary
from pgolf.optim.clip import clip_global_
from pgolf.runtime.devices import device_peak, mfu
from pgolf.runtime.dist import init_runtime
from pgolf.train.distributed import setup_optimization
from pgolf.train.loop import make_step_fn
from pgolf.train.run import build_model


class SyntheticBatches:
    """next_batch() of the real loaders, with uniform random tokens: (rows, T) int64 on the device."""

    def __init__(self, vocab_size: int, device: torch.device, seed: int = 0):
        self.vocab, self.device = vocab_size, device
        self.gen = torch.Generator().manual_seed(seed)

    def next_batch(self, batch_tokens: int, seq_len: int, accum: int):
        rows = max(1, batch_tokens // (accum * seq_len))
        tok = torch.randint(0, self.vocab, (rows, seq_len + 1), generator=self.gen)
        tok = tok.to(self.device)
        return tok[:, :-1], tok[:, 1:]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class _Timer:
    device: torch.device

    def __call__(self, fn):
        _sync(self.device)
        t0 = time.perf_counter()
        out = fn()
        _sync(self.device)
        return out, time.perf_counter() - t0


def run_bench(cfg, steps: int = 10, split_steps: int = 3) -> dict:
    t = cfg.train
    rt = init_runtime(t.device)
    accum = t.grad_accum  # one rank runs every micro-batch of the step
    model = build_model(cfg, rt)
    compiled = rt.is_cuda and t.compile
    runner = torch.compile(model, dynamic=False, fullgraph=True) if compiled else model
    opt = setup_optimization(model, runner, cfg, rt)
    batches = SyntheticBatches(cfg.model.vocab_size, rt.device, t.seed)
    params = list(model.parameters())
    step_fn = make_step_fn(runner, None, opt.optimizers, batches, cfg, rt, accum, params, grad_sync=opt.grad_sync)
    timer = _Timer(rt.device)
    counters.clear()
    if rt.is_cuda:
        torch.cuda.reset_peak_memory_stats(rt.device)

    _, first = timer(lambda: step_fn(0))
    timer(lambda: step_fn(1))
    graphs_warm = counters["stats"]["unique_graphs"]
    times = [timer(lambda i=i: step_fn(2 + i))[1] for i in range(steps)]
    recompiles = counters["stats"]["unique_graphs"] - graphs_warm

    fwd, bwd, opt_t = [], [], []
    for _ in range(split_steps):
        for o in opt.optimizers:
            o.zero_grad(set_to_none=True)
        f = b = 0.0
        for _m in range(accum):
            x, y = batches.next_batch(t.batch_tokens, t.seq_len, accum)

            def forward(x=x, y=y):
                with rt.autocast():
                    return runner(x, y)

            loss, dt = timer(forward)
            f += dt
            b += timer(lambda loss=loss: (loss / accum).backward())[1]

        def optimize():  # as make_step_fn: gradient sync (sharded Muon), global clip, every optimizer
            if opt.grad_sync is not None:
                opt.grad_sync.reduce()
                if cfg.optim.grad_clip_norm > 0:
                    opt.grad_sync.clip_(cfg.optim.grad_clip_norm)
            elif cfg.optim.grad_clip_norm > 0:
                clip_global_([p.grad for p in params if p.grad is not None], cfg.optim.grad_clip_norm)
            for o in opt.optimizers:
                o.step()

        fwd.append(f)
        bwd.append(b)
        opt_t.append(timer(optimize)[1])

    med = statistics.median(times)
    tok_s = t.batch_tokens / med
    device_name = torch.cuda.get_device_name(rt.device) if rt.is_cuda else None
    fl = flops_summary(cfg.model, t.seq_len, model.looping)
    peak = device_peak(device_name)
    if rt.is_cuda:
        mem, mem_kind = torch.cuda.max_memory_allocated(rt.device), "CUDA max allocated"
    else:
        mem, mem_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process peak RSS"
    breaks = counters["graph_break"]
    return {
        "device": device_name or "cpu", "compile": compiled, "first_step_s": first, "steps": steps,
        "ms_per_step": 1000 * med, "ms_per_step_min": 1000 * min(times), "ms_per_step_max": 1000 * max(times),
        "tokens_per_step": t.batch_tokens, "tokens_per_s": tok_s, **fl,
        "model_flops_per_s": fl["flops_per_token"] * tok_s,
        "peak_device": peak[0] if peak else None, "peak_flops_per_s": peak[1] if peak else None,
        "mfu": mfu(fl["flops_per_token"], tok_s, peak[1]) if peak else None,
        "peak_memory_bytes": mem, "peak_memory_kind": mem_kind,
        "graph_breaks": sum(breaks.values()), "graph_break_first": next(iter(breaks), "").split("\n")[0] or None,
        "graphs_compiled": counters["stats"]["unique_graphs"], "recompiles": recompiles,
        "split_steps": split_steps, "forward_ms": 1000 * statistics.median(fwd),
        "backward_ms": 1000 * statistics.median(bwd), "optimizer_ms": 1000 * statistics.median(opt_t),
        "data": "synthetic uniform tokens", "world_size": 1, "params": sum(p.numel() for p in params),
    }


def format_table(r: dict, title: str) -> str:
    """The result as an aligned two-column table."""
    split_total = r["forward_ms"] + r["backward_ms"] + r["optimizer_ms"]

    def pct(x):
        return f"{x:.1f} ms ({100 * x / split_total:.0f}%)" if split_total > 0 else f"{x:.1f} ms"

    rows = [
        ("device", f"{r['device']} | 1 rank | {r['data']}"),
        ("params", f"{r['params']:,}"),
        ("compile", f"{'on' if r['compile'] else 'off'} | first step {r['first_step_s']:.2f} s"
                    + ("" if r["compile"] else " (no compilation: warmup only)")),
        ("ms/step", f"{r['ms_per_step']:.1f} (median of {r['steps']}; min {r['ms_per_step_min']:.1f}, "
                    f"max {r['ms_per_step_max']:.1f})"),
        ("tokens/s", f"{r['tokens_per_s']:,.0f} ({r['tokens_per_step']:,} tokens/step)"),
        ("FLOPs/token", f"{r['flops_per_token'] / 1e6:,.1f} M fwd+bwd, attention full T×T "
                        f"(causal triangle: {r['flops_per_token_causal'] / 1e6:,.1f} M)"),
        ("model FLOP/s", f"{r['model_flops_per_s'] / 1e9:,.2f} G (attention full)"),
        ("MFU", f"{100 * r['mfu']:.2f}% of {r['peak_device']} dense bf16 {r['peak_flops_per_s'] / 1e12:.0f} TFLOP/s"
         if r["mfu"] is not None else "n/a (no bf16 peak for this device: FLOP/s only)"),
        ("peak memory", f"{r['peak_memory_bytes'] / 2**20:,.0f} MiB ({r['peak_memory_kind']})"),
        ("graph breaks", f"{r['graph_breaks']}" + (f" (first: {r['graph_break_first']})"
                                                   if r["graph_break_first"] else "")),
        ("recompiles", f"{r['recompiles']} ({r['graphs_compiled']} graphs compiled in all)"),
        (f"split (median of {r['split_steps']})", f"forward {pct(r['forward_ms'])} | backward "
                                                  f"{pct(r['backward_ms'])} | optimizer {pct(r['optimizer_ms'])}"),
    ]
    w = max(len(k) for k, _ in rows)
    return "\n".join([title] + [f"  {k:<{w}}  {v}" for k, v in rows])
