"""Loader time per training step vs the step itself (`tiny` recipe on CPU), for every loader kind.

For each kind (sequential, shuffled, packed) and prefetch on/off, runs real `tiny` training steps (make_step_fn)
and accumulates the wall time spent *inside* `loader.next_batch` during them — what the step actually waits for.
Then times the loader alone at the challenge's sizes (CPU side, no H2D copy): the baseline on 1 GPU (524,288
tokens/step, T=1024, 8 micro-batches) and one rank of 8×H100 for the seeds (786,432 tokens, T=2048, world 8).

Usage: python benchmarks/loader_step.py [--data ../shared/data/gutenberg_sp1024] [--steps 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pgolf.config import override
from pgolf.data.loader import DistributedTokenLoader
from pgolf.data.packed import PackedLoader
from pgolf.data.shuffled import ShuffledLoader
from pgolf.data.train_loader import build_loader
from pgolf.optim.routing import build_optimizers
from pgolf.recipes import get_recipe
from pgolf.runtime.dist import init_runtime
from pgolf.train.loop import make_step_fn
from pgolf.train.run import build_model


class Timed:
    def __init__(self, loader):
        self.loader, self.seconds = loader, 0.0

    def next_batch(self, *a):
        t = time.perf_counter()
        out = self.loader.next_batch(*a)
        self.seconds += time.perf_counter() - t
        return out


def step_table(data: Path, steps: int) -> None:
    rt = init_runtime("cpu")
    cfg = override(get_recipe("tiny").build(), {"data.path": str(data), "train.device": "cpu"})
    t = cfg.train
    print(f"tiny: {t.batch_tokens:,} tokens/step, T={t.seq_len}, accum {t.grad_accum}, CPU, {torch.get_num_threads()} "
          f"threads, {steps} steps after 3 warm-up steps")
    print(f"{'loader':<12}{'prefetch':>9}{'step ms':>10}{'loader ms/step':>16}{'share':>9}")
    for kind in ("sequential", "shuffled", "packed"):
        for prefetch in (True, False):
            c = override(cfg, {"data.loader": kind})
            model = build_model(c, rt)
            opts, _ = build_optimizers(model, c.optim, c.model.tie_embeddings)
            loader = Timed(build_loader(c.data, c.model.vocab_size, c.train.seed, rt, bos_id=c.model.bos_id,
                                        prefetch=prefetch))
            step = make_step_fn(model, None, opts, loader, c, rt, t.grad_accum, list(model.parameters()))
            for i in range(3):
                step(i, 1.0)
            loader.seconds = 0.0
            t0 = time.perf_counter()
            for i in range(steps):
                step(i, 1.0)
            total = time.perf_counter() - t0
            print(f"{kind:<12}{'on' if prefetch else 'off':>9}{1000 * total / steps:>10.1f}"
                  f"{1000 * loader.seconds / steps:>16.3f}{100 * loader.seconds / total:>8.3f}%")
            loader.loader.close()


def scale_table(data: Path, steps: int) -> None:
    print("\nloader alone at challenge sizes (CPU side: read + int64 + BOS scan; no H2D)")
    print(f"{'case':<46}{'loader':<12}{'ms/step':>9}")
    cases = [("baseline, 1 GPU: 524,288 tok, T=1024, accum 8", 524_288, 1024, 8, 1),
             ("seeds, 1 rank of 8: 786,432 tok, T=2048", 786_432, 2048, 1, 8)]
    for name, batch, T, accum, world in cases:
        for cls in (DistributedTokenLoader, ShuffledLoader, PackedLoader):
            ld = cls(data, 0, world, torch.device("cpu"), 1024, prefetch=False)
            for _ in range(2):
                ld.next_batch(batch, T, accum)
            t0 = time.perf_counter()
            for _ in range(steps):
                for _ in range(accum):
                    ld.next_batch(batch, T, accum)
            print(f"{name:<46}{ld.kind:<12}{1000 * (time.perf_counter() - t0) / steps:>9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents
    shared = next((p / "shared" for p in here[1:4] if (p / "shared").is_dir()), here[1] / "shared")
    ap.add_argument("--data", type=Path, default=shared / "data" / "gutenberg_sp1024")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--scale-only", action="store_true", help="skip the tiny training steps")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads for the steps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.scale_only:
        step_table(args.data, args.steps)
    scale_table(args.data, max(3, args.steps // 3))


if __name__ == "__main__":
    main()
