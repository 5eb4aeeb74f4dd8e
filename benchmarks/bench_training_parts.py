"""Cost of the training-dynamics parts per optimizer step, on the matrices of an L-layer d-wide trunk.

    python benchmarks/bench_training_parts.py [--layers 11] [--dim 512] [--mlp 3] [--device cuda|cpu] [--reps 10]
                                              [--threads N] [--compile]

Rows: Muon step per matrix (the seeds' loop, one NS call each) vs batched by shape (pgolf), NS5 vs Polar Express;
global-norm clipping (pgolf's float64 sums vs torch.nn.utils.clip_grad_norm_); a QAT swap in + out per scale rule;
an EMA update. Prints a table of ms per call (median of --reps after one warm-up).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pgolf.optim.clip import clip_global_
from pgolf.optim.muon import Muon, muon_direction, ns_coefficients
from pgolf.train.averaging import EMA, EMAConfig
from pgolf.train.qat import QAT, scale_rule


def trunk_matrices(layers: int, dim: int, mlp: int, kv_ratio: float = 0.5) -> list[tuple[int, int]]:
    kv = int(dim * kv_ratio)
    per = [(dim, dim), (kv, dim), (kv, dim), (dim, dim), (mlp * dim, dim), (dim, mlp * dim)]
    return per * layers


def timed(fn, reps: int, device: torch.device) -> float:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        out.append(1000 * (time.perf_counter() - t))
    return statistics.median(out)


class PerMatrixMuon(Muon):
    """The seeds' loop: one orthogonalisation call per matrix (same maths as Muon.step on one rank)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            coeffs = ns_coefficients(group["ns"], group["ns_steps"])
            for p in group["params"]:
                st = self.state.setdefault(p, {})
                buf = st.setdefault("momentum_buffer", torch.zeros_like(p.grad))
                buf.mul_(group["momentum"]).add_(p.grad)
                d = muon_direction(p.grad.add(buf, alpha=group["momentum"]), coeffs, group["row_norm"],
                                   self.orthogonalize)
                p.mul_(1 - group["lr"] * group["weight_decay"]).add_(d.to(p.dtype), alpha=-group["lr"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=11)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--mlp", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch's default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the orthogonalisation (as run.py on CUDA)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    shapes = trunk_matrices(a.layers, a.dim, a.mlp)
    params = [torch.nn.Parameter(torch.randn(s, device=dev) * 0.02) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    n = sum(p.numel() for p in params)
    print(f"{len(params)} matrices, {n / 1e6:.1f}M params, device {dev} "
          f"({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"torch {torch.__version__}")
    rows = []
    for ns in ("ns5", "polar_express"):
        for cls, label in ((PerMatrixMuon, "per matrix (seeds' loop)"), (Muon, "batched by shape (pgolf)")):
            opt = cls(params, lr=0.0, momentum=0.95, ns=ns)
            if a.compile:
                from pgolf.optim.muon import orthogonalize

                opt.orthogonalize = torch.compile(orthogonalize)
            rows.append((f"Muon step, {label}", ns, timed(opt.step, a.reps, dev)))
    grads = [p.grad for p in params]
    rows.append(("clip, global norm in float64 (pgolf)", "", timed(lambda: clip_global_(grads, 1e9), a.reps, dev)))
    rows.append(("clip, torch.nn.utils.clip_grad_norm_", "",
                 timed(lambda: torch.nn.utils.clip_grad_norm_(params, 1e9), a.reps, dev)))
    model = torch.nn.Module()
    model.w = torch.nn.ParameterList(params)
    for rule, bits in (("policy", 8), ("absmax_floor", 6)):
        qat = QAT(model, lambda name, p, b=bits: b, scale_rule(rule))

        def swap(q=qat):
            q.swap_in()
            q.swap_out()

        rows.append((f"QAT swap in + out ({bits} bits)", rule, timed(swap, a.reps, dev)))
    ema = EMA(model, EMAConfig())
    rows.append(("EMA update (fp32 shadow)", "", timed(lambda: ema.update(model, 1, 1.0), a.reps, dev)))
    w = max(len(r[0]) for r in rows)
    print(f"| {'part':<{w}} | variant | ms/call |\n|{'-' * (w + 2)}|---------|---------|")
    for name, var, ms in rows:
        print(f"| {name:<{w}} | {var} | {ms:.2f} |")


if __name__ == "__main__":
    main()
