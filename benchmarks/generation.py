"""Self-generated calibration text: KV-cache generation vs recomputing the prefix at every step (#1473's way).

    python benchmarks/generation.py [--recipe pr1473] [--seqs 4] [--seq-len 256] [--threads 1] [--full]

Builds the recipe's model (tiny-sized unless --full; random weights: speed does not depend on them), samples the
same sequences both ways (they must be identical) and prints seconds and tokens/s for each.
"""

from __future__ import annotations

import argparse
import time

import torch

from pgolf.model.gpt import GPT
from pgolf.quant.generate import generate
from pgolf.recipes import get_recipe, tiny


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipe", default="pr1473")
    ap.add_argument("--seqs", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--full", action="store_true", help="the full-size model instead of the tiny one")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = get_recipe(a.recipe).build()
    cfg = cfg if a.full else tiny(cfg)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model = GPT(cfg.model).to(dev)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    n_tok = a.seqs * a.seq_len
    print(f"# {a.recipe}{'' if a.full else ' (tiny)'}: {sum(p.numel() for p in model.parameters()):,} params, "
          f"{a.seqs} × {a.seq_len} tokens, batch {a.seqs}, {dev}, {a.threads} thread(s)")
    out = {}
    for use_cache in (True, False):
        t0 = time.perf_counter()
        out[use_cache] = generate(model, a.seqs, a.seq_len, 0.8, 1, a.seqs, dev, log=lambda s: None,
                                  use_cache=use_cache)
        dt = time.perf_counter() - t0
        print(f"{'KV cache' if use_cache else 'recompute prefix':18s} {dt:8.2f} s  {n_tok / dt:10.0f} tok/s")
    print(f"identical tokens: {torch.equal(out[True], out[False])}")


if __name__ == "__main__":
    main()
