"""pgolf's varlen attention on the device: FA3 flash_attn_varlen_func vs the exact masked SDPA path, same logits?

pgolf.model.features.varlen has two kernels for document-isolated attention: FA3's varlen function (CUDA, when
`flash_attn_interface` imports) and a masked SDPA reference. CPU tests only reach the second. This check runs the
pr1855 recipe's model (full size, random init, looping on, eager) on --rows × T tokens of the proxy's train shards as
one flat row with cu_seqlens at BOS (pgolf.data.packed), under bf16 autocast, once per kernel, and prints
max|Δlogit| and |Δloss| between them, beside each one's distance to the masked path in fp32 (the bf16 noise floor
the FA3 difference should sit within). Exit status 0 when the FA3 row is within 2× the bf16 masked row's distance
to fp32 (or FA3 is absent, said).

    python benchmarks/varlen_check.py --data DIR [--rows 4]
    python benchmarks/varlen_check.py --smoke --data DIR   # CPU, tiny: the 'fa3' row is a per-segment SDPA
                                                           # stand-in (benchmarks/parity_frontier.py's), plumbing only
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgolf.config import override  # noqa: E402
from pgolf.data.packed import cu_seqlens_of  # noqa: E402
from pgolf.data.shards import load_split  # noqa: E402
from pgolf.model.gpt import GPT  # noqa: E402
from pgolf.recipes import get_recipe, tiny  # noqa: E402


def stand_in() -> None:
    """Smoke only: pgolf's attention calls a per-segment SDPA instead of FA3 (which needs CUDA)."""
    from parity_frontier import _sdpa_varlen

    import pgolf.model.attention as attention

    def fake(q, k, v, cu, max_seqlen, fa3=None):
        if fa3 is None:
            from pgolf.model.features.varlen import varlen_attention
            return varlen_attention(q, k, v, cu, max_seqlen)
        return _sdpa_varlen(q[0], k[0], v[0], cu, cu, max_seqlen, max_seqlen)[None]

    attention.varlen_attention = fake  # the attention module looks the name up at call time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a directory of fineweb_train_*.bin shards")
    ap.add_argument("--rows", type=int, default=4, help="rows of T in the flat row")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args(argv)
    cuda = torch.cuda.is_available() and not a.smoke
    dev = torch.device("cuda" if cuda else "cpu")
    if not a.smoke and not (cuda and importlib.util.find_spec("flash_attn_interface") is not None):
        print(f"varlen check: skipped, FA3 varlen needs CUDA and flash_attn_interface (cuda {cuda})")
        return 0
    cfg = get_recipe("pr1855").build()
    if a.smoke:
        cfg = override(tiny(cfg), {"train.seq_len": 64})
        torch.set_num_threads(1)
        stand_in()
    T = cfg.train.seq_len
    torch.manual_seed(0)
    model = GPT(cfg.model).to(dev).eval()
    with torch.no_grad():
        for p in model.parameters():  # zero-init projections would hide the attention
            p.add_(0.02 * torch.randn_like(p))
    model.set_looping(True)
    tokens = np.asarray(load_split(Path(a.data), "train"))
    n = a.rows * T
    bos = np.flatnonzero(tokens[1 : 20 * n] == cfg.model.bos_id)
    start = max(0, int(bos[0]) + 1 - n // 3) if bos.size else 0  # a document boundary inside the row
    span = tokens[start : start + n + 1].astype(np.int64) % cfg.model.vocab_size
    cu_np, longest, nseg = cu_seqlens_of(span[:-1], cfg.model.bos_id, T, 64)
    x = torch.from_numpy(span[:-1]).to(dev).view(a.rows, T)
    y = torch.from_numpy(span[1:]).to(dev).view(a.rows, T)
    cu = torch.from_numpy(cu_np).to(dev)

    def run(kernel: str, bf16: bool):
        if a.smoke:  # the stand-in decides by the function given; resolve would refuse fa3 on CPU
            model.varlen_kernel = kernel
            for b in model.blocks:
                b.attn.varlen_fa3 = object() if kernel == "fa3" else None
        else:
            model.resolve_varlen(cuda, kernel)
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            z = model.logits(x, cu_seqlens=cu, max_seqlen=T).float()
        return z, F.cross_entropy(z.reshape(-1, z.size(-1)), y.reshape(-1)).item()

    ref, ref_loss = run("masked", bf16=False)
    device = torch.cuda.get_device_name(dev) if cuda else "cpu"
    print(f"varlen check | {device} | pr1855 model {'tiny' if a.smoke else 'full size'}, looping on | {n:,} tokens "
          f"as one flat row, {nseg} segments (longest {longest}) | bf16 autocast vs the masked path in fp32"
          + (" | SMOKE: 'fa3' is a per-segment SDPA stand-in" if a.smoke else ""))
    rows = {}
    for kernel in ("masked", "fa3"):
        z, loss = run(kernel, bf16=True)
        rows[kernel] = (z, loss)
        print(f"{kernel:6s} bf16: max|Δlogit| vs fp32 masked {(z - ref).abs().max().item():.3e}  "
              f"|Δloss| {abs(loss - ref_loss):.3e}")
    (zf, lf), (zm, lm) = rows["fa3"], rows["masked"]
    d = (zf - zm).abs().max().item()
    print(f"fa3 vs masked (both bf16): max|Δlogit| {d:.3e}  mean|Δlogit| {(zf - zm).abs().mean().item():.3e}  "
          f"|Δloss| {abs(lf - lm):.3e}")
    floor = (zm - ref).abs().max().item()
    ok = (zf - ref).abs().max().item() <= 2 * floor + 1e-6
    print(f"fa3 within 2× the bf16 masked path's distance to fp32 ({floor:.3e}): {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
