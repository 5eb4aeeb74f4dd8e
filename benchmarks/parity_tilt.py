"""Parity of pgolf's n-gram tilt hints (pgolf.eval.ngram_tilt) with #2135's own C helper, on a real token stream.

The helper (`online_ngram_state.c`) is extracted from a local mirror of openai/parameter-golf (refs/pull/2135/head)
into --workdir, outside the repository, and compiled there with gcc (nothing is vendored). Its token expert is
called through ctypes exactly as the record calls it — seeded with the first target, then one pass over the targets
— and its (top token, top share) per position, gated at share ≥ threshold, is compared with pgolf's hints: the gate
masks must be equal and the hinted tokens equal wherever the gate is open.

    python benchmarks/parity_tilt.py --data /work/shared/data/gutenberg_sp1024 [--tokens 2000000]
"""

from __future__ import annotations

import argparse
import ctypes
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records_mirror import show_to  # noqa: E402  (benchmarks/ is not a package)

from pgolf.data.shards import load_split  # noqa: E402
from pgolf.eval.config import NgramTiltConfig  # noqa: E402
from pgolf.eval.ngram_tilt import build_hints  # noqa: E402

MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")
REF = "refs/pull/2135/head"
SRC = "records/track_10min_16mb/2026-05-01_SP8192_PR2130Base_Calib32/online_ngram_state.c"


def build_helper(mirror: Path, workdir: Path) -> ctypes.CDLL:
    workdir.mkdir(parents=True, exist_ok=True)
    src, lib = workdir / "online_ngram_state.c", workdir / "libonline_ngram_state.so"
    show_to(mirror, f"{REF}:{SRC}", src)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    return ctypes.CDLL(str(lib))


def helper_hints(lib: ctypes.CDLL, targets: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(top token, top share) per target, from the helper's token expert (within-word outputs ignored)."""
    u16, f32, u8 = ctypes.POINTER(ctypes.c_uint16), ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint8)
    lib.online_ngram_state_create.restype = ctypes.c_void_p
    lib.online_ngram_state_create.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.online_ngram_state_seed_prefix_token.argtypes = [ctypes.c_void_p, ctypes.c_uint16]
    lib.online_ngram_state_process_chunk.restype = ctypes.c_int
    lib.online_ngram_state_process_chunk.argtypes = [ctypes.c_void_p, u16, ctypes.c_int64, u8, u8, u16, f32, u16,
                                                     f32, u8]
    lib.online_ngram_state_destroy.argtypes = [ctypes.c_void_p]
    n = targets.size
    bits = min(max(math.ceil(math.log2(max(n / 0.55, 1))), 12), 28)  # the record's table sizing (load 0.55)
    st = lib.online_ngram_state_create(order - 1, bits, bits)
    lib.online_ngram_state_seed_prefix_token(st, int(targets[0]))
    t = np.ascontiguousarray(targets.astype(np.uint16))
    lut = np.zeros(65536, np.uint8)
    top_tok, top_p = np.zeros(n, np.uint16), np.zeros(n, np.float32)
    w_tok, w_p, w_ok = np.zeros(n, np.uint16), np.zeros(n, np.float32), np.zeros(n, np.uint8)
    rc = lib.online_ngram_state_process_chunk(st, t.ctypes.data_as(u16), n, lut.ctypes.data_as(u8),
                                              lut.ctypes.data_as(u8), top_tok.ctypes.data_as(u16),
                                              top_p.ctypes.data_as(f32), w_tok.ctypes.data_as(u16),
                                              w_p.ctypes.data_as(f32), w_ok.ctypes.data_as(u8))
    lib.online_ngram_state_destroy(st)
    if rc != 0:
        raise RuntimeError(f"helper returned {rc}")
    return top_tok.astype(np.int64), top_p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="a shard folder; its val split is the stream")
    ap.add_argument("--tokens", type=int, default=2_000_000)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pgolf_parity_tilt"))
    a = ap.parse_args()
    tokens = load_split(Path(a.data), "val")[: a.tokens + 1]
    lib = build_helper(a.mirror, a.workdir)
    ok = True
    for cfg in (NgramTiltConfig(), NgramTiltConfig(order=4, threshold=0.5)):
        tok, share = helper_hints(lib, tokens[1:], cfg.order)
        gate_ref = share >= np.float32(cfg.threshold)
        hint, gate = build_hints(tokens, cfg)
        same_gate = np.array_equal(gate[1:], gate_ref)
        same_tok = same_gate and np.array_equal(hint[1:][gate_ref], tok[gate_ref])
        ok &= same_tok
        print(f"order {cfg.order} threshold {cfg.threshold}: {tokens.size - 1:,} targets, {int(gate_ref.sum()):,} "
              f"hinted by the helper, {int(gate[1:].sum()):,} by pgolf; gates equal: {same_gate}; "
              f"hinted tokens equal: {same_tok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
