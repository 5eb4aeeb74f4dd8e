"""ms/step and MFU of one training step: pgolf's pr1855 recipe against #1855's own train_gpt.py, looping on and off.

The record's script (records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611 on
main of openai/parameter-golf; extracted at run time, never vendored: --script, or --mirror into --workdir) is
imported as a module (its main never runs) and its own GPT, Optimizers (token AdamW, its Parallel Muon on the four
banks with row normalisation, scalar AdamW, on its aux stream; stepped in turn on CPU) and clip run as its train_model runs them: bf16 model
with restore_fp32_params, torch.compile(fullgraph), its fused Triton MLP and fused softcapped CE on CUDA. pgolf's
side is `pgolf train --recipe pr1855`'s model and optimizers (eager MLP and CE, compiled fullgraph, its NS compiled).
Both start from the same weights (the record's init, copied by parity_frontier's name map) and get the same batches.

Same work per step on both sides: the recipe's train.batch_tokens (786,432) in micro-batches of --micro-tokens
(98,304 = the record's per-GPU batch on 8 GPUs), each ONE flat row with the same cu_seqlens (pgolf.data.packed:
BOS and T=2048 cuts; padded to ONE length for all batches so each side compiles one graph per looping state).
Attention kernel: FA3 flash_attn_varlen_func on both when `flash_attn_interface` imports on CUDA; otherwise dense
causal SDPA rows of T on both (the record's flash_attn_3_func is then an SDPA stand-in, and its varlen call would
need a stand-in unlike pgolf's masked path, so neither side runs varlen), said in the header. Data: the proxy's train shards (gutenberg_sp1024: ids < 1024
fit the 8192 vocab; its documents are long, ~1,700 tokens, so varlen saves less than on FineWeb's).

Timing: per looping state, --warmup untimed steps per side (compile), then --blocks alternating blocks of --steps
(pgolf, #1855, pgolf, …), synchronised; ms/step = median over blocks; rows are printed as each state finishes.
MFU = flops/token · tokens/s / dense bf16 peak (pgolf.model.flops, attention counted over full T×T, the looped
schedule when looping is on; the same count for both sides, so the MFU ratio is the speed ratio).
--budget S: a looping state is skipped (said) when the time already spent plus the last state's time exceeds S
(looping on, the graph of the last 65 % of training, is measured first).

    python benchmarks/train_step_1855.py --data DIR [--script pr1855_train_gpt.py] [--budget 200]
    python benchmarks/train_step_1855.py --smoke --data DIR --script F   # CPU, tiny shapes, shims (parity_frontier)
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
from parity_frontier import RECORDS, load_record, record_hparams, to_pgolf_state  # noqa: E402
from parity_seeds import MIRROR  # noqa: E402
from records_mirror import show_to  # noqa: E402  (benchmarks/ is not a package)

from pgolf.config import override  # noqa: E402
from pgolf.data.packed import cu_seqlens_of  # noqa: E402
from pgolf.data.shards import load_split  # noqa: E402
from pgolf.model.flops import flops_summary  # noqa: E402
from pgolf.model.gpt import GPT  # noqa: E402
from pgolf.model.layers import apply_training_precision  # noqa: E402
from pgolf.optim.clip import clip_global_  # noqa: E402
from pgolf.optim.muon import Muon, orthogonalize  # noqa: E402
from pgolf.optim.routing import build_optimizers  # noqa: E402
from pgolf.recipes import get_recipe, tiny  # noqa: E402
from pgolf.runtime.devices import device_peak  # noqa: E402


def extract(mirror: Path, workdir: Path) -> Path:
    ref, path = RECORDS["pr1855"]
    dst = show_to(mirror, f"{ref}:{path}", workdir / "pr1855_train_gpt.py")
    return dst


class RecordOptimizers:
    """The record's own Optimizers (token AdamW, its Muon on the banks, scalar AdamW). On CPU its CUDA aux stream
    is left out: the three optimizers step in turn (its step on CUDA)."""

    def __init__(self, mod, h, model, cuda: bool):
        self.cuda, stream = cuda, torch.cuda.Stream
        if not cuda:
            torch.cuda.Stream = lambda *a, **k: None
        try:
            self.opt = mod.Optimizers(h, model)
        finally:
            torch.cuda.Stream = stream

    def zero_grad(self):
        self.opt.zero_grad_all()

    def step(self):
        if self.cuda:
            self.opt.step(distributed=False)
        else:
            for o in self.opt:
                o.step()


class Side:
    def __init__(self, name, runner, zero, clip, step, dev):
        self.name, self.runner, self.zero, self.clip, self.opt_step, self.dev = name, runner, zero, clip, step, dev

    def step(self, micro) -> torch.Tensor:
        self.zero()
        total = 0.0
        for x, y, cu in micro:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.dev.type == "cuda"):
                loss = self.runner(x, y, cu)
            (loss / len(micro)).backward()
            total += loss.detach()
        self.clip()
        self.opt_step()
        return total / len(micro)


def make_batches(tokens: np.ndarray, vocab: int, bos: int, T: int, micro: int, n: int, dev, smoke: bool):
    """n micro-batches (x (1, micro), y, cu) from the stream; every cu padded to the longest (fixed shape)."""
    if tokens.max() >= vocab:
        if not smoke:
            raise SystemExit(f"--data: token id {int(tokens.max())} ≥ the recipe's vocab {vocab}")
        tokens = tokens % vocab
    if tokens.size < n * micro + 1:
        raise SystemExit(f"--data: {tokens.size:,} train tokens, need {n * micro + 1:,}")
    spans = [tokens[i * micro : (i + 1) * micro + 1].astype(np.int64) for i in range(n)]
    cus = [cu_seqlens_of(s[:-1], bos, T, 64)[0] for s in spans]
    width = max(c.size for c in cus)
    out = []
    for s, c in zip(spans, cus):
        cu = np.full(width, micro, dtype=np.int32)
        cu[: c.size] = c
        t = torch.from_numpy(s).to(dev)
        out.append((t[None, :-1], t[None, 1:], torch.from_numpy(cu).to(dev)))
    return out, width


def build(a, dev):
    cuda = dev.type == "cuda"
    fa3 = cuda and importlib.util.find_spec("flash_attn_interface") is not None
    real = cuda and importlib.util.find_spec("triton") is not None
    cfg = get_recipe("pr1855").build()
    if a.smoke:  # parity_frontier's tiny shape, which its logit parity covers
        cfg = override(tiny(cfg), {"model.num_layers": 5, "model.recurrence.loop_start": 1,
                                   "model.recurrence.loop_end": 2, "model.parallel_residual.start_layer": 3,
                                   "train.seq_len": 64, "train.batch_tokens": 4 * 64})
    varlen = fa3 or not cuda  # CPU: the masked path and the record's per-segment stand-in, at tiny size
    cfg = override(cfg, {"model.attention_kernel": "fa3" if fa3 else "sdpa",
                         "model.varlen.kernel": "fa3" if fa3 else "masked"})
    mod = load_record(Path(a.script), "pr1855_step", real, fa3)
    mod.BOS_ID = cfg.model.bos_id
    h = record_hparams(mod, cfg)
    h.fused_ce_enabled = real  # the record's default (FUSED_CE_ENABLED=1) where Triton runs
    torch.manual_seed(0)
    theirs = mod.GPT(h).to(dev)
    ours = GPT(cfg.model).to(dev)
    ours.load_state_dict(to_pgolf_state(theirs.state_dict(), cfg.model.num_layers), strict=True)
    n_t, n_o = (sum(p.numel() for p in m.parameters()) for m in (theirs, ours))
    if n_t != n_o:
        raise SystemExit(f"parameter counts differ: #1855 {n_t:,} vs pgolf {n_o:,}")
    for blk in theirs.blocks:
        blk.mlp.use_fused = real
    if cuda:
        theirs.bfloat16()
        mod.restore_fp32_params(theirs)
        apply_training_precision(ours, cfg.quant.control_patterns)
    micro = min(a.micro_tokens, cfg.train.batch_tokens) // cfg.train.seq_len * cfg.train.seq_len
    for blk in theirs.blocks:  # the record builds its RoPE cache for the flat row before compiling (train_model)
        blk.attn.rotary(micro, dev, torch.bfloat16 if cuda else torch.float32)
    opts, _ = build_optimizers(ours, cfg.optim, cfg.model.tie_embeddings, fused=cuda)
    for o in opts:
        if isinstance(o, Muon) and cuda:
            o.orthogonalize = torch.compile(orthogonalize, dynamic=False)
    r_opt = RecordOptimizers(mod, h, theirs, cuda)
    run_o = torch.compile(ours, dynamic=False, fullgraph=True) if cuda else ours
    run_t = torch.compile(theirs, dynamic=False, fullgraph=True) if cuda else theirs
    T, clip_o = cfg.train.seq_len, cfg.optim.grad_clip_norm
    if varlen:
        f_o = lambda x, y, cu: run_o(x.view(-1, T), y.view(-1, T), cu_seqlens=cu, max_seqlen=T)  # noqa: E731
        f_t = lambda x, y, cu: run_t(x, y, cu_seqlens=cu, max_seqlen=T)  # noqa: E731
    else:
        f_o = lambda x, y, cu: run_o(x.view(-1, T), y.view(-1, T))  # noqa: E731
        f_t = lambda x, y, cu: run_t(x.view(-1, T), y.view(-1, T))  # noqa: E731
    params_t = [p for p in theirs.parameters() if p.requires_grad]
    sides = [Side("pgolf", f_o, lambda: [o.zero_grad(set_to_none=True) for o in opts],
                  lambda: clip_global_([p.grad for p in ours.parameters() if p.grad is not None], clip_o)
                  if clip_o > 0 else None, lambda: [o.step() for o in opts], dev),
             Side("#1855", f_t, r_opt.zero_grad, lambda: torch.nn.utils.clip_grad_norm_(params_t, h.grad_clip_norm),
                  r_opt.step, dev)]

    def set_looping(on: bool):
        ours.set_looping(on)
        theirs.looping_active = on

    kernel = ("FA3 flash_attn_varlen_func (cu_seqlens)" if fa3 else
              "dense causal SDPA rows of T (FA3 not importable; #1855's flash_attn_3_func → SDPA stand-in)" if cuda
              else "varlen: pgolf masked SDPA / #1855 per-segment SDPA stand-in")
    fused = "its fused Triton MLP + CE" if real else "eager MLP + CE (Triton shimmed)"
    return cfg, sides, set_looping, kernel, fused, micro, n_o


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a directory of fineweb_train_*.bin shards (the proxy)")
    ap.add_argument("--script", help="#1855's train_gpt.py (default: extracted from --mirror)")
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pgolf_train_step_1855")
    ap.add_argument("--micro-tokens", type=int, default=98_304, help="tokens per micro-batch (#1855: 786,432 / 8)")
    ap.add_argument("--looping", default="on,off", help="looping states to measure, in order (on: the graph of "
                    "the last 65%% of training, and the costlier one, first)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--budget", type=float, default=0.0, help="seconds; 0 = no limit (see the docstring)")
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny shapes, 1+2×2 steps: the harness end to end")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args(argv)
    t_start = time.perf_counter()
    dev = torch.device("cuda" if torch.cuda.is_available() and not a.smoke else "cpu")
    if a.smoke:
        a.warmup, a.steps, a.blocks = 1, 2, 2
        torch.set_num_threads(1)
    a.script = a.script or str(extract(a.mirror, a.workdir))
    cfg, sides, set_looping, kernel, fused, micro, n_params = build(a, dev)
    T, step_tokens = cfg.train.seq_len, cfg.train.batch_tokens
    per_step = step_tokens // micro
    tokens = np.asarray(load_split(Path(a.data), "train"))
    batches, cu_len = make_batches(tokens, cfg.model.vocab_size, cfg.model.bos_id, T, micro, 2 * per_step, dev,
                                   a.smoke)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    peak = device_peak(name if dev.type == "cuda" else None)
    print(f"train step #1855 | {name} | torch {torch.__version__} | attention {kernel} | #1855 {fused} | "
          f"{n_params:,} params both | T {T}, {step_tokens:,} tokens/step in {per_step} micro-batches of {micro:,} "
          f"(cu_seqlens padded to {cu_len}) | {a.blocks} alternating blocks of {a.steps} steps after {a.warmup} "
          "warm-up, per looping state" + (" | SMOKE (tiny shapes, CPU: figures mean nothing)" if a.smoke else ""),
          flush=True)
    print("| looping | side | ms/step | tokens/s | MFU | peak GiB | loss after warm-up |\n|---|---|---|---|---|---|---|",
          flush=True)
    k = {s.name: 0 for s in sides}

    def feed(side: str):  # each side walks the same sequence of steps (two distinct steps, alternating)
        i = k[side] % 2
        k[side] += 1
        return batches[i * per_step : (i + 1) * per_step]

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    rows, skipped, last = [], [], 0.0
    for state in [s for s in a.looping.split(",") if s]:
        spent = time.perf_counter() - t_start
        if a.budget and rows and spent + last > a.budget:
            skipped.append(state)
            print(f"| {state} | skipped: {spent:.0f} s spent + {last:.0f} s for the last state > --budget "
                  f"{a.budget:.0f} s | | | | | |", flush=True)
            continue
        t_state = time.perf_counter()
        set_looping(state == "on")
        losses, times, mem = {}, {s.name: [] for s in sides}, {}
        for s in sides:
            for _ in range(a.warmup):
                losses[s.name] = float(s.step(feed(s.name)))
        for _ in range(a.blocks):
            for s in sides:
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                sync()
                t0 = time.perf_counter()
                for _ in range(a.steps):
                    s.step(feed(s.name))
                sync()
                times[s.name].append((time.perf_counter() - t0) / a.steps)
                if dev.type == "cuda":
                    mem[s.name] = torch.cuda.max_memory_allocated(dev) / 2**30
        fpt = flops_summary(cfg.model, T, looping=state == "on")["flops_per_token"]
        for s in sides:
            ms = 1000 * statistics.median(times[s.name])
            tok_s = step_tokens / (ms / 1000)
            r = {"looping": state, "side": s.name, "ms_per_step": ms, "tokens_per_s": tok_s,
                 "mfu": fpt * tok_s / peak[1] if peak else None, "peak_mem_gib": mem.get(s.name),
                 "loss_after_warmup": losses[s.name], "blocks_ms": [1000 * t for t in times[s.name]],
                 "flops_per_token": fpt}
            rows.append(r)
            mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
            gib = f"{r['peak_mem_gib']:.1f}" if r["peak_mem_gib"] is not None else "n/a"
            print(f"| {state} | {s.name} | {ms:.1f} | {tok_s:,.0f} | {mfu} | {gib} | {r['loss_after_warmup']:.4f} |",
                  flush=True)
        pair = rows[-2:]
        print(f"looping {state}: ms/step ratio pgolf / #1855: {pair[0]['ms_per_step'] / pair[1]['ms_per_step']:.3f}"
              f" ({time.perf_counter() - t_state:.0f} s incl. compile)", flush=True)
        last = time.perf_counter() - t_state
    out = {"device": name, "torch": torch.__version__, "attention": kernel, "record_kernels": fused, "seq_len": T,
           "tokens_per_step": step_tokens, "micro_tokens": micro, "cu_len": cu_len, "params": n_params,
           "smoke": a.smoke, "rows": rows, "skipped": skipped, "seconds": time.perf_counter() - t_start}
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
