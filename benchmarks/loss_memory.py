"""Peak memory of one training step, eager softcapped CE vs the chunked one (pgolf.kernels.softcap_ce), on CPU.

Each variant runs in a fresh process (so one's peak cannot hide the other's): build the recipe's model at full
size (fp32, CPU), its optimizers, one batch of random tokens; then one step — forward, backward, every optimizer's
step. The process reports its resident set before the step and its peak (ru_maxrss) after; the step's own peak is
the difference. Variants alternate (eager, chunked, eager, …) and the table gives the median of --repeats.

    python benchmarks/loss_memory.py [--recipe pr1473] [--batch-seqs 4] [--seq-len 2048] [--repeats 3] [--part loss]
At T 2048 on CPU the step's peak is dominated by SDPA's attention matrices (B·H·T² fp32 per layer on the CPU math
path), so `--part loss` also measures the head and the loss alone, where the difference lives.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from dataclasses import replace


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def loss_only(recipe: str, variant: str, batch_seqs: int, seq_len: int, chunk_rows: int) -> dict:
    """The head and the loss alone: final hidden states (N, d) → tied head → softcapped CE, forward + backward."""
    import torch
    import torch.nn.functional as F

    from pgolf.kernels.softcap_ce import softcap_cross_entropy, softcap_cross_entropy_eager
    from pgolf.recipes import get_recipe

    torch.set_num_threads(1)
    m = get_recipe(recipe).build().model
    g = torch.Generator().manual_seed(0)
    N = batch_seqs * seq_len
    h = (torch.randn(N, m.model_dim, generator=g)).requires_grad_(True)
    w = (torch.randn(m.vocab_size, m.model_dim, generator=g) * 0.05).requires_grad_(True)
    y = torch.randint(0, m.vocab_size, (N,), generator=g)
    before = rss_kib()
    z = F.linear(h, w)
    if variant == "chunked":
        loss = softcap_cross_entropy(z, y, m.logit_softcap, chunk_rows=chunk_rows)
    else:
        loss = softcap_cross_entropy_eager(z, y, m.logit_softcap)
    loss.backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"variant": variant, "loss": float(loss), "rss_before_mib": before / 1024, "peak_mib": peak / 1024,
            "step_peak_mib": (peak - before) / 1024}


def one_step(recipe: str, variant: str, batch_seqs: int, seq_len: int, chunk_rows: int) -> dict:
    import torch

    from pgolf.kernels.softcap_ce import SoftcapCEConfig
    from pgolf.model.gpt import GPT
    from pgolf.optim.routing import build_optimizers
    from pgolf.recipes import get_recipe

    torch.set_num_threads(1)
    cfg = get_recipe(recipe).build()
    mcfg = replace(cfg.model, softcap_ce=SoftcapCEConfig(chunk_rows) if variant == "chunked" else None,
                   attention_kernel="sdpa")
    cfg = replace(cfg, model=mcfg)
    torch.manual_seed(0)
    model = GPT(mcfg)
    opts, _ = build_optimizers(model, cfg.optim, mcfg.tie_embeddings)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, mcfg.vocab_size, (batch_seqs, seq_len + 1), generator=g)
    before = rss_kib()
    loss = model(x[:, :-1], x[:, 1:])
    loss.backward()
    for o in opts:
        o.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"variant": variant, "loss": float(loss), "rss_before_mib": before / 1024, "peak_mib": peak / 1024,
            "step_peak_mib": (peak - before) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="pr1473")
    ap.add_argument("--batch-seqs", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=0, help="0 = the recipe's train.seq_len")
    ap.add_argument("--chunk-rows", type=int, default=0, help="0 = the kernel's auto size")
    ap.add_argument("--part", choices=["step", "loss"], default="step",
                    help="step: a whole training step; loss: the head and the loss alone (forward + backward)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=["eager", "chunked"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not a.seq_len:
        from pgolf.recipes import get_recipe

        a.seq_len = get_recipe(a.recipe).build().train.seq_len
    if a.child:
        fn = one_step if a.part == "step" else loss_only
        print(json.dumps(fn(a.recipe, a.child, a.batch_seqs, a.seq_len, a.chunk_rows)))
        return
    runs: dict[str, list[dict]] = {"eager": [], "chunked": []}
    for _ in range(a.repeats):
        for v in runs:
            cmd = [sys.executable, __file__, "--child", v, "--recipe", a.recipe, "--batch-seqs", str(a.batch_seqs),
                   "--seq-len", str(a.seq_len), "--chunk-rows", str(a.chunk_rows), "--part", a.part]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs[v].append(json.loads(out.strip().splitlines()[-1]))
    from pgolf.recipes import get_recipe

    V = get_recipe(a.recipe).build().model.vocab_size
    N = a.batch_seqs * a.seq_len
    what = "one training step (forward, backward, optimizer steps)" if a.part == "step" else "head + loss alone"
    print(f"{a.recipe}: {what}, fp32 on CPU, 1 thread, batch "
          f"{a.batch_seqs}×{a.seq_len}; one N×V fp32 tensor = {N * V * 4 / 2**20:.0f} MiB; median of {a.repeats} "
          "fresh processes per variant, alternating")
    print("| loss | loss value | RSS before step MiB | peak RSS MiB | step peak (peak − before) MiB |")
    print("|---|---|---|---|---|")
    for v, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("rss_before_mib", "peak_mib", "step_peak_mib")}
        print(f"| {v} | {rs[0]['loss']:.6f} | {med['rss_before_mib']:.0f} | {med['peak_mib']:.0f} | "
              f"{med['step_peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
