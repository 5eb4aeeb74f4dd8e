"""Evaluation speed: every pgolf eval mode on one model, and pgolf's sliding eval against PR #198's own.

`modes`: standard, sliding, document-aware sliding, full-model TTT and per-document LoRA TTT on one model (an
artifact, or a seeded random 4L×128 model), over a prefix of a val split; prints seconds (warm-up apart), tokens/s
and val_bpb per mode.
    python benchmarks/eval_speed.py modes --data /work/shared/data/gutenberg_sp1024 \
        --tokenizer /work/shared/tokenizers/fineweb_1024_bpe.model --max-tokens 65536 --seq-len 256 --stride 64

`padding`: no model — the padded fraction of rank 0's compiled scoring in every mode (T 2048, stride 64, 8 ranks,
the default 524,288-token batch, TTT chunks of 32K) under the former full-row rule and pgolf.eval.batches' buckets.
    python benchmarks/eval_speed.py padding --data /work/shared/data/gutenberg_sp1024

`pr198`: a #198-shaped model (11L × 512, 8/4 heads, MLP 3×, vocab 1024, tied, softcap 30; no BigramHash, SmearGate
held at exactly 0 in the #198 model), sliding eval T 2048 / stride 64 over the whole val split, once with pgolf
(compiled, bucketed batch shapes) and with `eval_val_sliding` from #198's train_gpt.py (its first call, which compiles,
untimed), on the same weights, in --repeats alternating pairs (pgolf, #198, pgolf, …): medians and the median of
the pair ratios, pgolf's padded fraction and the one the former full-row rule would have computed. pgolf's RoPE base is set to the base #198's Rotary uses at T (NTK rescaling above
1024: 10⁴·(T/1024)^(D/(D−2)) ≈ 20,452 at 2048), so both compute the same function; `logits max |Δ|` checks that on
a batch of windows. #198 re-scores the last `stride` targets ~31 times (SPEC_SEEDS.md §6.4), so its token count is
larger and its bpb differs by ~1e-5. Without the `flash_attn_interface` module (FA3) a stand-in built on PyTorch SDPA
is injected and said so.
    git -C /path/to/parameter-golf show refs/pull/198/head:records/track_10min_16mb/\
2026-03-20_11L_Int6_MLP3x_WD04_SmearBigram2k_1.1318/train_gpt.py > /tmp/pr198.py
    python benchmarks/eval_speed.py pr198 --pr198-script /tmp/pr198.py --data … --tokenizer …   # on 1 GPU
    python benchmarks/eval_speed.py pr198 --small --pr198-script /tmp/pr198.py --data … --tokenizer …  # CPU check
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pgolf.config import LoRATTTConfig, ModelConfig, QuantConfig, TTTConfig
from pgolf.data.shards import load_split
from pgolf.data.tokenizer import load_sentencepiece
from pgolf.eval.accounting import describe, val_accounting
from pgolf.eval.plan import Window, model_bos, sliding_plan, split_for_rank
from pgolf.eval.run import evaluate, evaluate_ttt
from pgolf.eval.scorer import WindowScorer, bucket_length
from pgolf.eval.sliding import eval_plan
from pgolf.eval.standard import trim_val
from pgolf.model.gpt import GPT
from pgolf.model.layers import apply_training_precision
from pgolf.runtime.dist import init_runtime


def sync(rt):
    if rt.is_cuda:
        torch.cuda.synchronize(rt.device)


def seeded_model(cfg: ModelConfig, seed: int, device) -> GPT:
    """Baseline init, then every weight perturbed (the zero-init projections would make a trivial model)."""
    torch.manual_seed(seed)
    model = GPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * (0.02 if p.ndim == 2 else 0.05))
    return model.to(device).eval()


def load_val(a, T: int, vocab: int, rt):
    sp = load_sentencepiece(a.tokenizer)
    val = trim_val(np.asarray(load_split(Path(a.data), "val", vocab)), T, a.max_tokens)
    acct = val_accounting(Path(a.data), sp, vocab, val, rt.device, a.tokenizer)  # the scorer's bytes (sidecar if any)
    print(f"# {describe(acct)}", file=sys.stderr, flush=True)
    return sp, val, acct


def timed(rt, fn):
    sync(rt)
    t0 = time.perf_counter()
    out = fn()
    sync(rt)
    return out, time.perf_counter() - t0


def cmd_modes(a) -> list[dict]:
    rt = init_runtime(a.device)
    if a.artifact:
        from pgolf.artifact.model_file import load_model

        model, _ = load_model(Path(a.artifact), rt.device)
        model.eval()
    else:
        vocab = int(load_sentencepiece(a.tokenizer).vocab_size())
        cfg = ModelConfig(vocab_size=vocab, num_layers=4, model_dim=128, num_heads=4, num_kv_heads=2)
        model = seeded_model(cfg, a.seed, rt.device)
    T, s = a.seq_len, a.stride
    _, val, lut = load_val(a, T, model.cfg.vocab_size, rt)
    compile = rt.is_cuda and not a.no_compile
    full = TTTConfig(chunk_tokens=a.ttt_chunk, epochs=1, lr=a.ttt_lr, batch_seqs=8)
    lora = TTTConfig(chunk_tokens=s, epochs=1, optimizer="adam", lr=a.lora_lr, lr_schedule="constant",
                     lora=LoRATTTConfig(batch_docs=a.lora_docs))
    runs = [("standard", lambda: evaluate(model, val, T, 0, a.batch_tokens, lut, rt, compile=compile), 0, False),
            (f"sliding s={s}", lambda: evaluate(model, val, T, s, a.batch_tokens, lut, rt, compile=compile), s, False),
            (f"doc-aware s={s}", lambda: evaluate(model, val, T, s, a.batch_tokens, lut, rt, True, compile), s, True),
            (f"TTT full s={s} chunk {a.ttt_chunk}",
             lambda: evaluate_ttt(model, val, T, s, a.batch_tokens, lut, rt, full, compile=compile), s, False),
            (f"TTT LoRA chunk {s}", lambda: evaluate_ttt(model, val, T, s, a.batch_tokens, lut, rt, lora,
                                                         compile=compile), s, True)]
    rows = []
    for name, fn, stride, doc in runs:
        warm = 0.0
        if compile and not name.startswith("TTT"):
            sc = WindowScorer(model, T, a.batch_tokens, rt.device, rt.autocast, compile=True)
            warm = sc.warmup(sc.shapes(sliding_plan(val, T, stride, doc, model_bos(model))), model.cfg.vocab_size)
        r, dt = timed(rt, fn)
        stats = r.stats if hasattr(r, "stats") else {}
        res = r.result if hasattr(r, "result") else r
        warm += stats.get("warmup_seconds", 0.0)
        dt -= stats.get("warmup_seconds", 0.0)
        padded = (getattr(res, "speed", None) or {}).get("padded_fraction", float("nan"))
        rows.append({"mode": name, "targets": res.scored_tokens, "bytes": res.scored_bytes, "val_bpb": res.val_bpb,
                     "seconds": dt, "warmup_seconds": warm, "tok_per_s": res.scored_tokens / dt, "padded": padded})
    print(f"{rt.describe()} | {model.cfg.num_layers}L×{model.cfg.model_dim} | T {T} | {val.size - 1:,} targets | "
          f"threads {torch.get_num_threads()} | compile {'on' if compile else 'off'}")
    print(f"{'mode':<30} {'targets':>9} {'bytes':>10} {'val_bpb':>9} {'seconds':>8} {'warm-up':>8} {'tok/s':>9} "
          f"{'padded':>7}")
    for r in rows:
        print(f"{r['mode']:<30} {r['targets']:>9,} {r['bytes']:>10,} {r['val_bpb']:>9.5f} {r['seconds']:>8.2f} "
              f"{r['warmup_seconds']:>8.2f} {r['tok_per_s']:>9,.0f} {100 * r['padded']:>6.2f}%")
    return rows


def fa3_standin() -> types.ModuleType:
    """flash_attn_interface.flash_attn_func(q, k, v, causal) on (B, T, H, D) tensors, computed with SDPA."""
    mod = types.ModuleType("flash_attn_interface")

    def flash_attn_func(q, k, v, causal=False):
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal,
                                           enable_gqa=k.size(2) != q.size(2))
        return y.transpose(1, 2)

    mod.flash_attn_func = flash_attn_func
    return mod


def load_pr198(path: Path):
    shim = importlib.util.find_spec("flash_attn_interface") is None
    if shim:
        print("pr198: flash_attn_interface (FA3) not installed → SDPA stand-in for flash_attn_func")
        sys.modules["flash_attn_interface"] = fa3_standin()
    try:
        spec = importlib.util.spec_from_file_location("pr198_train_gpt", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:  # the stand-in serves #198's import only
        if shim:
            sys.modules.pop("flash_attn_interface", None)
    return mod


def pr198_rope_base(base: float, head_dim: int, T: int, train_T: int = 1024) -> float:
    return base * (T / train_T) ** (head_dim / (head_dim - 2)) if T > train_T else base


def pr198_windows(N: int, T: int, s: int) -> list[Window]:
    """#198's window set: a window every s tokens while ws < N (partial tail windows too), each scoring its last s
    positions (the first window all of them) — the last s targets are scored ~T/s times."""
    out = []
    for ws in range(0, N, s):
        wlen = min(ws + T, N) - ws
        out.append(Window(ws, wlen, 0 if ws == 0 else max(wlen - s, 0)))
    return out


def cmd_pr198(a) -> dict:
    rt = init_runtime(a.device)
    L, d, T, s = (2, 64, 128, 32) if a.small else (11, 512, a.seq_len, a.stride)
    vocab = int(load_sentencepiece(a.tokenizer).vocab_size())
    heads = 8 if not a.small else 4
    cfg = ModelConfig(vocab_size=vocab, num_layers=L, model_dim=d, num_heads=heads, num_kv_heads=heads // 2,
                      mlp_mult=3.0, rope_base=pr198_rope_base(1e4, d // heads, T))
    model = seeded_model(cfg, a.seed, rt.device)
    if a.artifact:
        from pgolf.artifact.model_file import load_artifact

        model.load_state_dict(load_artifact(Path(a.artifact))[1], strict=True)
    if rt.is_cuda:
        apply_training_precision(model, QuantConfig().control_patterns)
    sp, val, lut = load_val(a, T, vocab, rt)
    N = val.size - 1
    sc = WindowScorer(model, T, a.batch_tokens, rt.device, rt.autocast, compile=rt.is_cuda)
    warm = sc.warmup(sc.shapes(sliding_plan(val, T, s, False)), vocab) if rt.is_cuda else 0.0
    run_ours = lambda: evaluate(model, val, T, s, a.batch_tokens, lut, rt, compile=rt.is_cuda)  # noqa: E731
    ours, t_ours = timed(rt, run_ours)
    speed = getattr(ours, "speed", None) or {}  # absent on a pgolf without eval/batches.py (a "before" run)
    n_win = len(sliding_plan(val, T, s, False))
    rows = max(1, a.batch_tokens // T)
    out = {"device": rt.describe(), "model": f"{L}L×{d}", "seq_len": T, "stride": s, "targets": N,
           "pgolf": {"val_bpb": ours.val_bpb, "scored_tokens": ours.scored_tokens, "seconds": t_ours,
                     "warmup_seconds": warm, "batch_tokens": a.batch_tokens,
                     "padded_fraction": speed.get("padded_fraction"), "batches": speed.get("batches"),
                     "path": speed.get("path", "(no speed stats: pgolf before eval/batches.py)"),
                     # the former rule: every batch at rows = batch_tokens // T, a partial last batch padded
                     "padded_fraction_full_rows": 1 - n_win / (-(-n_win // rows) * rows)}}
    if a.pr198_script:
        mod = load_pr198(Path(a.pr198_script))
        pr = mod.GPT(vocab_size=vocab, num_layers=L, model_dim=d, num_heads=heads, num_kv_heads=heads // 2,
                     mlp_mult=3, tie_embeddings=True, tied_embed_init_std=0.005, logit_softcap=30.0,
                     rope_base=1e4, qk_gain_init=1.5, bigram_vocab_size=0).to(rt.device)
        if rt.is_cuda:
            pr.bfloat16()
            for m in pr.modules():
                if isinstance(m, mod.CastedLinear):
                    m.float()
            mod.restore_low_dim_params_to_fp32(pr)
        state = dict(model.state_dict())
        state["smear.gate"] = torch.full_like(pr.smear.gate, -1e4)  # sigmoid(−1e4) = 0: SmearGate off exactly
        pr.load_state_dict(state, strict=True)
        pr.eval()
        rows = min(4, N // T)  # up to 4 windows of inputs (a short --max-tokens may hold fewer)
        x = torch.from_numpy(val[: rows * T].astype(np.int64)).view(rows, T).to(rt.device)
        with torch.no_grad(), rt.autocast():
            delta = (pr.forward_logits(x).float() - model.logits(x).float()).abs().max().item()
        luts = mod.build_sentencepiece_luts(sp, vocab, rt.device)
        vt = torch.from_numpy(val.astype(np.int64))
        args = mod.Hyperparameters()
        ctx = contextlib.nullcontext if rt.is_cuda else _eager_compile

        def run_pr198():
            with ctx():
                return mod.eval_val_sliding(args, pr, rt.rank, rt.world_size, rt.device, vt, *luts, stride=s,
                                            batch_seqs=32, eval_seq_len=T)

        (_, bpb), first = timed(rt, run_pr198)  # the first call compiles inside #198's function
        pairs = []  # (pgolf s, #198 s), the two sides alternating
        for _ in range(a.repeats):
            pairs.append((timed(rt, run_ours)[1], timed(rt, run_pr198)[1]))
        same = eval_plan(model, val, pr198_windows(N, T, s), T, lut, rt, a.batch_tokens, compile=rt.is_cuda)[0]
        out["pgolf"]["seconds"] = statistics.median(p[0] for p in pairs)
        out["pr198"] = {"val_bpb": bpb, "scored_tokens": same.scored_tokens,
                        "seconds": statistics.median(p[1] for p in pairs), "first_call_seconds": first,
                        "batch_seqs": 32}
        out["pairs_seconds"] = pairs
        out["ratio_pgolf_over_pr198_median"] = statistics.median(p[0] / p[1] for p in pairs)
        out["logits_max_abs_diff"] = delta
        out["bpb_diff_pgolf_minus_pr198"] = ours.val_bpb - bpb
        out["pgolf_on_pr198_windows"] = {"val_bpb": same.val_bpb, "bpb_diff": same.val_bpb - bpb}
    print(json.dumps(out, indent=2))
    return out


@contextlib.contextmanager
def _eager_compile():
    """CPU check only: #198's function calls torch.compile; run it eager instead (said in the output)."""
    print("pr198 on CPU: torch.compile inside eval_val_sliding replaced by the eager function")
    real = torch.compile
    torch.compile = lambda fn, **kw: fn
    try:
        yield
    finally:
        torch.compile = real


def padded(wins: list[Window], T: int, batch_tokens: int, rule: str) -> tuple[int, int]:
    """(computed, real) positions of scoring `wins` as one compiled pass: rule "full" = every batch of a bucket at
    its full row count (the scorer before eval/batches.py), "buckets" = pgolf.eval.batches' fixed row buckets."""
    # imported here, not at the top: the pr198 mode also runs against a pgolf without eval/batches.py ("before")
    from pgolf.eval.batches import split_rows

    groups: dict[int, list[Window]] = {}
    for w in wins:
        groups.setdefault(bucket_length(w.length, T), []).append(w)
    computed = 0
    for L, ws in groups.items():
        rows = max(1, batch_tokens // L)
        if rule == "full":
            computed += -(-len(ws) // rows) * rows * L
        else:
            computed += sum(b for _, b in split_rows(len(ws), rows, fixed=True)) * L
    return computed, sum(w.length for w in wins)


def cmd_padding(a) -> list[dict]:
    """Padded fraction of rank 0's compiled scoring, per mode, before (full rows) and after (row buckets); no model."""
    from pgolf.eval.ttt import chunk_plan

    val = trim_val(np.asarray(load_split(Path(a.data), "val")), a.seq_len, a.max_tokens)
    T, s, W = a.seq_len, a.stride, a.world
    bos = ModelConfig().bos_id  # no model here: the documents split where the model config's BOS says
    bt = max(1, a.batch_tokens // W)
    rows = []
    for name, plan, chunked in (("standard", sliding_plan(val, T, 0, False), False),
                                (f"sliding s={s}", sliding_plan(val, T, s, False), False),
                                (f"doc-aware s={s}", sliding_plan(val, T, s, True, bos), False),
                                (f"TTT full, sliding s={s}, chunks {a.ttt_chunk}", sliding_plan(val, T, s, False), True),
                                (f"TTT full, doc-aware s={s}, chunks {a.ttt_chunk}", sliding_plan(val, T, s, True, bos), True)):
        calls = chunk_plan(plan, a.ttt_chunk) if chunked else [plan]
        mine = [split_for_rank(c, 0, W) for c in calls]  # each score call scores rank 0's share of one chunk
        out = {"mode": name}
        for rule in ("full", "buckets"):
            c, r = map(sum, zip(*(padded(m, T, bt, rule) for m in mine if m)))
            out[rule] = 1 - r / c
        rows.append(out)
    print(f"rank 0 of {W} | T {T} | {val.size - 1:,} targets | {bt:,} positions per rank batch | compiled shapes")
    print(f"{'mode':<44} {'padded before (full rows)':>26} {'after (row buckets)':>20}")
    for r in rows:
        print(f"{r['mode']:<44} {100 * r['full']:>25.2f}% {100 * r['buckets']:>19.2f}%")
    return rows


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("modes", "pr198"):
        p = sub.add_parser(name)
        p.add_argument("--data", required=True)
        p.add_argument("--tokenizer", required=True)
        p.add_argument("--artifact", help="a pgolf artifact (default: a seeded random model)")
        p.add_argument("--max-tokens", type=int, default=0)
        p.add_argument("--seq-len", type=int, default=2048 if name == "pr198" else 256)
        p.add_argument("--stride", type=int, default=64)
        p.add_argument("--batch-tokens", type=int, default=65_536)
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        p.add_argument("--threads", type=int, default=0, help="torch intra-op threads on CPU (0 = torch default)")
        p.add_argument("--seed", type=int, default=0)
    m = sub.choices["modes"]
    m.add_argument("--no-compile", action="store_true")
    m.add_argument("--ttt-chunk", type=int, default=8192)
    m.add_argument("--ttt-lr", type=float, default=0.005)
    m.add_argument("--lora-lr", type=float, default=1e-3)
    m.add_argument("--lora-docs", type=int, default=16)
    p = sub.choices["pr198"]
    p.add_argument("--pr198-script", help="#198's train_gpt.py (without it only pgolf's side runs)")
    p.add_argument("--small", action="store_true", help="2L×64, T 128, stride 32: a CPU check of the comparison")
    p.add_argument("--repeats", type=int, default=3, help="timed (pgolf, #198) pairs, alternating; medians")
    q = sub.add_parser("padding")
    q.add_argument("--data", required=True)
    q.add_argument("--max-tokens", type=int, default=0)
    q.add_argument("--seq-len", type=int, default=2048)
    q.add_argument("--stride", type=int, default=64)
    q.add_argument("--batch-tokens", type=int, default=524_288, help="global (EvalConfig's default)")
    q.add_argument("--world", type=int, default=8)
    q.add_argument("--ttt-chunk", type=int, default=32_768)
    a = ap.parse_args(argv)
    if a.cmd == "padding":
        return cmd_padding(a)
    if a.threads:
        torch.set_num_threads(a.threads)
    return cmd_modes(a) if a.cmd == "modes" else cmd_pr198(a)


if __name__ == "__main__":
    main()
