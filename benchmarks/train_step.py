"""ms/step and MFU of one training step: pgolf's pr1473 recipe against seed #1473's own model and optimizers.

Both sides, in one process on one device, get the same token batches from the proxy train shards, the same tokens per
step (the recipe's train.batch_tokens, in micro-batches of --micro-tokens: #1473's per-rank batch on 8 GPUs), the
same attention kernel (FA3 when `flash_attn_interface` imports, else PyTorch SDPA on both: the seed's
`flash_attn_func` is then an SDPA stand-in, said in the header) and the same precision on CUDA (bf16 autocast;
#1473's bf16 model with fp32 banks and control tensors as its main() sets them, pgolf's apply_training_precision).
On CUDA both models are torch.compile'd with fullgraph (as both trainers do; pgolf's NS too, #1473's NS uncompiled
as run). A step = zero grads, forward/backward over the micro-batches, gradient clipping (#1473: clip_grad_norm_
0.3 on all parameters; pgolf: its global-norm clip at the recipe's value), every optimizer's step. Schedules, EMA,
QAT and the loader are outside the step on both sides. #1473's optimizer groups follow its main(): AdamW for the
token/bigram/VE tables, its Parallel Muon on the four banks, AdamW for the control tensors and projections.

Steps: --warmup untimed steps per side (compile), then --blocks alternating blocks of --steps steps (pgolf, #1473,
pgolf, …), synchronised; ms/step = median over blocks. MFU = (6·N + 6·L·T·d)·tokens/s / peak bf16 FLOP/s, N =
pgolf's parameter count without lookup-only tables (bigram and VE embeddings; the tied tok_emb counts once, as the
head), 6·L·T·d the causal attention term; the same N for both sides, so the MFU ratio is the speed ratio. Peak from
the device name (H100/H200 989 TFLOP/s dense bf16; unknown → no MFU).

    python benchmarks/train_step.py --data DIR [--script pr1473_train_gpt.py] [--steps 5 --blocks 4 --warmup 3]
    python benchmarks/train_step.py --smoke --data DIR   # CPU, tiny shapes, end to end in seconds
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from optim_step import extract_pr1473  # noqa: E402
from parity_seeds import MIRROR, build_seed_model, load_seed_module, parity_config  # noqa: E402

from pgolf.config import override  # noqa: E402
from pgolf.data.shards import load_split  # noqa: E402
from pgolf.model.gpt import GPT  # noqa: E402
from pgolf.model.layers import apply_training_precision  # noqa: E402
from pgolf.optim.clip import clip_global_  # noqa: E402
from pgolf.optim.muon import Muon, orthogonalize  # noqa: E402
from pgolf.optim.routing import build_optimizers  # noqa: E402
from pgolf.recipes import get_recipe  # noqa: E402

PEAK_BF16 = {"H100": 989.4e12, "H200": 989.4e12, "A100": 312e12}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def flops_per_token(model: GPT) -> float:
    lookup = sum(p.numel() for n, p in model.named_parameters() if n in ("bigram.embed.weight",
                                                                            "ve_shared.embed.weight"))
    n = sum(p.numel() for p in model.parameters()) - lookup
    m = model.cfg
    return 6.0 * n + 6.0 * m.num_layers * SEQ[0] * m.model_dim


SEQ = [0]  # the run's train seq_len (set in main; read by flops_per_token)


def seed_optimizers(mod, model, args) -> list[torch.optim.Optimizer]:
    """#1473's three optimizer groups, built as its main() builds them (banks → its Muon)."""
    banks = [model.qo_bank, model.kv_bank, model.mlp_up_bank, model.mlp_down_bank]
    scalar = [p for n, p in model.blocks.named_parameters()
              if p.ndim < 2 or any(c in n for c in mod.CONTROL_TENSOR_NAME_PATTERNS)]
    scalar += [model.skip_weights, model.smear.gate]
    tables = [model.tok_emb.weight]
    if model.bigram is not None:
        scalar.append(model.bigram.scale)
        tables.append(model.bigram.embed.weight)
        if model.bigram.proj is not None:
            scalar.append(model.bigram.proj.weight)
    if model.ve_shared is not None:
        tables.append(model.ve_shared.embed.weight)
        if model.ve_shared.proj is not None:
            scalar.append(model.ve_shared.proj.weight)
        scalar += [model.ve_shared.scale, *model.ve_layer_scales]
    fused = model.tok_emb.weight.is_cuda
    betas = (args.beta1, args.beta2)
    return [torch.optim.AdamW([{"params": [t], "lr": args.tied_embed_lr} for t in tables], betas=betas,
                              eps=args.adam_eps, weight_decay=args.adam_wd, fused=fused),
            mod.Muon(banks, lr=args.matrix_lr, momentum=args.muon_momentum, backend_steps=args.muon_backend_steps,
                     weight_decay=args.muon_wd),
            torch.optim.AdamW([{"params": scalar, "lr": args.scalar_lr}], betas=betas, eps=args.adam_eps,
                              weight_decay=args.adam_wd, fused=fused)]


class Side:
    def __init__(self, name, model, runner, opts, clip, dev):
        self.name, self.model, self.runner, self.opts, self.clip, self.dev = name, model, runner, opts, clip, dev

    def step(self, batches) -> float:
        for o in self.opts:
            o.zero_grad(set_to_none=True)
        total = 0.0
        for x, y in batches:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.dev.type == "cuda"):
                loss = self.runner(x, y)
            (loss / len(batches)).backward()
            total += loss.detach()
        self.clip()
        for o in self.opts:
            o.step()
        return total / len(batches)


def build_sides(a, dev: torch.device):
    full = get_recipe("pr1473").build()
    cfg = parity_config("pr1473")[0] if a.smoke else full
    fa3 = importlib.util.find_spec("flash_attn_interface") is not None and dev.type == "cuda"
    cfg = override(cfg, {"model.attention_kernel": "fa3" if fa3 else "sdpa"})
    if a.smoke:
        cfg = override(cfg, {"train.seq_len": 64, "train.batch_tokens": 4 * 64})
    mod = load_seed_module(Path(a.script), "pr1473")  # an SDPA stand-in for flash_attn_func without FA3
    args = mod.Hyperparameters()
    torch.manual_seed(0)
    ours = GPT(cfg.model).to(dev)
    seed = build_seed_model("pr1473", mod, cfg.model, cfg.train.seq_len).to(dev)
    if dev.type == "cuda":
        apply_training_precision(ours, cfg.quant.control_patterns)
        seed.bfloat16()
        for b in (seed.qo_bank, seed.kv_bank, seed.mlp_up_bank, seed.mlp_down_bank):
            b.data = b.data.float()
        for m in seed.modules():
            if isinstance(m, mod.CastedLinear):
                m.float()
        mod.restore_low_dim_params_to_fp32(seed)
    compile = dev.type == "cuda"
    opts, _ = build_optimizers(ours, cfg.optim, cfg.model.tie_embeddings, fused=dev.type == "cuda")
    for o in opts:
        if isinstance(o, Muon) and compile:
            o.orthogonalize = torch.compile(orthogonalize, dynamic=False)
    s_opts = seed_optimizers(mod, seed, args)
    run_ours = torch.compile(ours, dynamic=False, fullgraph=True) if compile else ours
    run_seed = torch.compile(seed, dynamic=False, fullgraph=True) if compile else seed
    clip_ours = cfg.optim.grad_clip_norm
    sides = [Side("pgolf", ours, run_ours, opts,
                  lambda: clip_global_([p.grad for p in ours.parameters() if p.grad is not None], clip_ours)
                  if clip_ours > 0 else None, dev),
             Side("#1473", seed, run_seed, s_opts,
                  lambda: torch.nn.utils.clip_grad_norm_(seed.parameters(), args.grad_clip_norm), dev)]
    kernel = "FA3" if fa3 else ("SDPA (#1473's flash_attn_func → SDPA stand-in)" if dev.type == "cuda" else "SDPA")
    return cfg, sides, kernel


def batches_from(tokens: np.ndarray, vocab: int, T: int, step_tokens: int, micro: int, dev, smoke: bool):
    """Endless steps of micro-batches [(x, y)] cut from the stream (the same for both sides)."""
    if tokens.max() >= vocab:
        if not smoke:
            raise SystemExit(f"--data: token id {int(tokens.max())} ≥ the recipe's vocab {vocab}")
        tokens = tokens % vocab  # smoke only: a tokenizer of another size
    rows = micro // T
    per_step = step_tokens // micro
    need = per_step * (rows * T + 1)
    pos = 0
    while True:
        if pos + need > tokens.size:
            pos = 0
        out = []
        for _ in range(per_step):
            t = torch.from_numpy(tokens[pos : pos + rows * T + 1].astype(np.int64)).to(dev)
            out.append((t[:-1].view(rows, T), t[1:].view(rows, T)))
            pos += rows * T
        yield out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a directory of fineweb_train_*.bin shards (the proxy)")
    ap.add_argument("--script", help="#1473's train_gpt.py (default: extracted from --mirror)")
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pgolf_train_step")
    ap.add_argument("--micro-tokens", type=int, default=98_304, help="tokens per micro-batch (#1473: 786,432 / 8)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny shapes, 1+2×2 steps: the harness end to end")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args(argv)
    dev = torch.device("cuda" if torch.cuda.is_available() and not a.smoke else "cpu")
    if a.smoke:
        a.warmup, a.steps, a.blocks = 1, 2, 2
        torch.set_num_threads(1)
    a.script = a.script or str(extract_pr1473(a.mirror, a.workdir))
    cfg, sides, kernel = build_sides(a, dev)
    T, step_tokens = cfg.train.seq_len, cfg.train.batch_tokens
    SEQ[0] = T
    micro = min(a.micro_tokens, step_tokens) // T * T
    tokens = load_split(Path(a.data), "train")
    feed = batches_from(np.asarray(tokens), cfg.model.vocab_size, T, step_tokens, micro, dev, a.smoke)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    losses = {}
    for s in sides:
        for _ in range(a.warmup):
            losses[s.name] = float(s.step(next(feed)))
    times: dict[str, list[float]] = {s.name: [] for s in sides}
    peak_mem = {}
    for _ in range(a.blocks):
        for s in sides:
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            sync()
            t0 = time.perf_counter()
            for _ in range(a.steps):
                s.step(next(feed))
            sync()
            times[s.name].append((time.perf_counter() - t0) / a.steps)
            if dev.type == "cuda":
                peak_mem[s.name] = torch.cuda.max_memory_allocated(dev) / 2**30
    fpt = flops_per_token(sides[0].model)
    peak = peak_flops(dev)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    rows = []
    for s in sides:
        ms = 1000 * statistics.median(times[s.name])
        tok_s = step_tokens / (ms / 1000)
        rows.append({"side": s.name, "ms_per_step": ms, "tokens_per_s": tok_s,
                     "mfu": fpt * tok_s / peak if peak else None, "peak_mem_gib": peak_mem.get(s.name),
                     "loss_after_warmup": losses[s.name], "blocks_ms": [1000 * t for t in times[s.name]]})
    out = {"device": name, "torch": torch.__version__, "attention": kernel, "seq_len": T, "tokens_per_step": step_tokens,
           "micro_tokens": micro, "smoke": a.smoke, "flops_per_token": fpt, "rows": rows,
           "ratio_ms_pgolf_over_1473": rows[0]["ms_per_step"] / rows[1]["ms_per_step"]}
    print(f"train step | {name} | torch {torch.__version__} | attention {kernel} | T {T}, {step_tokens:,} tokens/step "
          f"in micro-batches of {micro:,} | {a.blocks} alternating blocks of {a.steps} steps after {a.warmup} warm-up"
          + (" | SMOKE (tiny shapes, CPU: figures mean nothing)" if a.smoke else ""))
    print("| side | ms/step | tokens/s | MFU | peak GiB | loss after warm-up |\n|---|---|---|---|---|---|")
    for r in rows:
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
        mem = f"{r['peak_mem_gib']:.1f}" if r["peak_mem_gib"] is not None else "n/a"
        print(f"| {r['side']} | {r['ms_per_step']:.1f} | {r['tokens_per_s']:,.0f} | {mfu} | {mem} | "
              f"{r['loss_after_warmup']:.4f} |")
    print(f"ms/step ratio pgolf / #1473: {out['ratio_ms_pgolf_over_1473']:.3f}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
