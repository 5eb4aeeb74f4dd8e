"""Per-group compression (pgolf.artifact.pergroup, #1855) against the single-stream path, on the same quantized values.

    python benchmarks/pergroup.py tiny [--artifact RUN/model.pga] [--steps 250] [--threads 1]
    python benchmarks/pergroup.py full [--std-mult 1.0]    # pr1473-shaped Gaussian weights (benchmarks/codecs.py)

The state is quantized once by the policy (pr1473 by default); then the single-stream path encodes it with every
storage × codec (pgolf.artifact.pack + one codec: what `artifact.codec`/`artifact.storage` do today) and the
per-group path with the artifact's installed codecs (lrzip only when its binary is on PATH: the report says
whether it was used). Prints one line per configuration and, per group, the layout and codec it kept. Every
per-group blob is decoded and checked equal to the quantized values.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import torch

from pgolf.artifact import pergroup as pg
from pgolf.artifact.codecs import available, compress
from pgolf.artifact.model_file import int_bits
from pgolf.artifact.pack import pack
from pgolf.config import PerGroupConfig

# the same states as benchmarks/codecs.py (loaded by path: its module name is the standard library's `codecs`)
_spec = importlib.util.spec_from_file_location("bench_codecs", Path(__file__).resolve().parent / "codecs.py")
bench_codecs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_codecs)


def main() -> None:
    ap = argparse.ArgumentParser()
    bench_codecs.state_args(ap, threads=1)
    ap.add_argument("--codecs", default="brotli,lzma,zstd,zlib,lrzip", help="per-group codecs to try")
    a = ap.parse_args()
    state, tensors, qmeta, _ = bench_codecs.quantized_state(a)
    bits = int_bits(qmeta)
    params = sum(t.numel() for t in state.values())
    meta = {"tensors": qmeta}
    print(f"# {a.which}: {params:,} params, policy {a.policy}, lrzip binary "
          f"{'found' if pg.lrzip_available() else 'NOT installed (skipped)'}")
    best_single = None
    for storage in ("int8", "packed", "rans", "zigzag_t"):
        payload = pack(tensors, meta, storage, bits)
        for codec in ("zlib", "zstd", "lzma", "brotli"):
            if not available(codec):
                print(f"  single  {storage:8s} {codec:7s} not installed")
                continue
            n = len(compress(payload, codec)) + 4
            best_single = min(best_single or n, n)
            print(f"  single  {storage:8s} {codec:7s} {n:>12,} B  {n / params:.4f} B/param")
    cfg_pg = PerGroupConfig(codecs=tuple(c for c in a.codecs.split(",") if c))
    for storage in ("int8", "zigzag_t"):
        t0 = time.perf_counter()
        blob, info = pg.encode_pergroup(tensors, meta, bits, storage, "auto", cfg_pg)
        dt = time.perf_counter() - t0
        back, _ = pg.decode_pergroup(blob)
        assert all(torch.equal(back[k], v) for k, v in tensors.items())
        n = len(blob) + 4
        print(f"  pergroup rest={storage:8s}      {n:>12,} B  {n / params:.4f} B/param  "
              f"({(n - best_single) / best_single:+.2%} vs the best single stream; encode {dt:.1f} s; "
              f"skipped: {info['skipped'] or 'none'})")
        for key, g in info["groups"].items():
            print(f"      {key:24s} {g['layout']:5s} {g['codec']:7s} {g['bytes']:>10,} B")
        print(f"      {'rest':24s} {'':5s} {info['rest']['codec']:7s} {info['rest']['bytes']:>10,} B")


if __name__ == "__main__":
    main()
