"""The Muon step of pgolf against seed #1473's own Parallel Muon, on the same matrices, 1 rank and 2 gloo ranks (CPU).

#1473 keeps the block matrices in four 3-D banks (qo 2L×d×d, kv 2L×kv×d, mlp_up L×(m·d)×d, mlp_down L×d×(m·d)) and
orthogonalises each bank with one batched NS5 call; across ranks it reduce-scatters each bank, runs NS5 on its shard
and all-gathers (`launch_reduce_scatters()` then `step()`). pgolf keeps per-layer matrices and batches them by shape
(pgolf.optim.muon.buckets: the same four groups), one call per group; across ranks `ShardedMuon.reduce_scatter()`
then `step()` (pgolf.optim.sharded). Both sides get the same values and gradients (the bank slices), #1473's
hyper-parameters (lr 0.025, momentum 0.99, NS5 × 5, Nesterov, wd 0.04), and are timed alternately (pgolf, #1473,
pgolf, …) after one untimed step each; the table gives the medians and the median of the pair ratios, and the
largest difference between the two sides' first updates (not bitwise: #1473 keeps bf16 momentum and rounds A²
separately; pgolf keeps fp32 momentum and fuses b·A + c·A² — pgolf.optim.muon).

#1473's train_gpt.py is extracted at run time from a local mirror of openai/parameter-golf into --workdir (never
vendored) and imported as a module (its main() is not run).
    python benchmarks/optim_step.py [--ranks 1,2] [--layers 11] [--dim 512] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parity_seeds import MIRROR, SEEDS, load_seed_module  # noqa: E402
from records_mirror import show_to  # noqa: E402  (benchmarks/ is not a package)

from pgolf.optim.muon import Muon  # noqa: E402
from pgolf.optim.sharded import ShardedMuon  # noqa: E402

LR, MOMENTUM, WD, STEPS = 0.025, 0.99, 0.04, 5


def extract_pr1473(mirror: Path, workdir: Path) -> Path:
    ref, path = SEEDS["pr1473"]
    return show_to(mirror, f"{ref}:{path}", workdir / "pr1473_train_gpt.py")


def banks(layers: int, dim: int, kv: int, mlp: int) -> list[tuple[int, int, int]]:
    return [(2 * layers, dim, dim), (2 * layers, kv, dim), (layers, mlp, dim), (layers, dim, mlp)]


def make_sides(shapes, seed_mod, sharded: bool):
    """(seed banks, seed optimizer, pgolf matrices, pgolf optimizer): equal values and gradients."""
    g = torch.Generator().manual_seed(0)
    bank_ps, mats = [], []
    for s in shapes:
        w = torch.randn(s, generator=g) * 0.02
        gr = torch.randn(s, generator=g) * 1e-3
        b = torch.nn.Parameter(w.clone())
        b.grad = gr.clone()
        bank_ps.append(b)
        for i in range(s[0]):
            m = torch.nn.Parameter(w[i].clone())
            m.grad = gr[i].clone()
            mats.append(m)
    seed_opt = seed_mod.Muon(bank_ps, lr=LR, momentum=MOMENTUM, backend_steps=STEPS, nesterov=True, weight_decay=WD)
    cls = ShardedMuon if sharded else Muon
    ours = cls(mats, lr=LR, momentum=MOMENTUM, ns_steps=STEPS, nesterov=True, weight_decay=WD)
    return bank_ps, seed_opt, mats, ours


def run(rank: int, world: int, a, port: int, out: Path) -> None:
    torch.set_num_threads(a.threads)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    seed_mod = load_seed_module(Path(a.script), "pr1473")
    shapes = banks(a.layers, a.dim, a.dim // 2, a.mlp * a.dim)
    bank_ps, seed_opt, mats, ours = make_sides(shapes, seed_mod, sharded=world > 1)

    def step_ours():
        if world > 1:
            ours.reduce_scatter()
        ours.step()

    def step_seed():
        seed_opt.launch_reduce_scatters()
        seed_opt.step()

    def timed(fn) -> float:
        if world > 1:
            dist.barrier()
        t = time.perf_counter()
        fn()
        if world > 1:
            dist.barrier()
        return time.perf_counter() - t

    before_b = [p.detach().clone() for p in bank_ps]
    before_m = [p.detach().clone() for p in mats]
    timed(step_ours)  # untimed first step each (state allocation); its update is the one compared
    timed(step_seed)
    upd_seed = torch.cat([(p.detach() - q).reshape(-1) for p, q in zip(bank_ps, before_b)])
    upd_ours = torch.cat([(p.detach() - q).reshape(-1) for p, q in zip(mats, before_m)])
    pairs = [(timed(step_ours), timed(step_seed)) for _ in range(a.repeats)]
    if rank == 0:
        rel = ((upd_ours - upd_seed).norm() / upd_seed.norm()).item()
        out.write_text(json.dumps({"ranks": world, "pairs": pairs, "update_max_abs_diff":
                                   (upd_ours - upd_seed).abs().max().item(), "update_rel_l2_diff": rel,
                                   "update_max_abs": upd_seed.abs().max().item(),
                                   "matrices": len(mats), "params": sum(p.numel() for p in mats)}))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", default="1,2", help="comma-separated world sizes (gloo on CPU for > 1)")
    ap.add_argument("--layers", type=int, default=11)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--mlp", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--script", help="#1473's train_gpt.py (default: extracted from --mirror into --workdir)")
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pgolf_optim_step")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # rank world port out
    a = ap.parse_args(argv)
    if a.child:
        rank, world, port, out = a.child
        run(int(rank), int(world), a, int(port), Path(out))
        return []
    a.script = a.script or str(extract_pr1473(a.mirror, a.workdir))
    rows = []
    for world in (int(w) for w in a.ranks.split(",")):
        out = a.workdir / f"optim_step_{world}.json"
        port = 29500 + (os.getpid() % 400) + world
        base = [sys.executable, __file__, "--layers", str(a.layers), "--dim", str(a.dim), "--mlp", str(a.mlp),
                "--repeats", str(a.repeats), "--threads", str(a.threads), "--script", a.script,
                "--workdir", str(a.workdir)]
        procs = [subprocess.Popen(base + ["--child", str(r), str(world), str(port), str(out)],
                                  env=dict(os.environ, OMP_NUM_THREADS=str(a.threads))) for r in range(world)]
        if any(p.wait() for p in procs):
            raise SystemExit(f"a rank failed at world size {world}")
        rows.append(json.loads(out.read_text()))
    r0 = rows[0]
    print(f"Muon step on {r0['matrices']} matrices ({r0['params'] / 1e6:.1f}M params: {a.layers}L × {a.dim}, MLP "
          f"{a.mlp}×), CPU fp32 params / bf16 NS, {a.threads} thread(s) per rank, torch {torch.__version__}; "
          f"medians of {a.repeats} alternating pairs")
    print("| ranks | pgolf ms | #1473 ms | pgolf / #1473 (median of pairs) | first update: max abs Δ (of max) | "
          "rel. L2 Δ |\n|---|---|---|---|---|---|")
    for r in rows:
        p = r["pairs"]
        print(f"| {r['ranks']} | {1000 * statistics.median(x for x, _ in p):.1f} | "
              f"{1000 * statistics.median(y for _, y in p):.1f} | {statistics.median(x / y for x, y in p):.3f} | "
              f"{r['update_max_abs_diff']:.2e} (of {r['update_max_abs']:.2e}) | {r['update_rel_l2_diff']:.2e} |")
    return rows


if __name__ == "__main__":
    main()
