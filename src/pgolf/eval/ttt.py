"""Score-first full-model test-time training over the val stream (legal TTT; SPEC_FRONTIER.md §5.2).

The evaluation plan (sliding or document-aware windows, pgolf.eval.plan) is cut, in stream order, into chunks of
at least `chunk_tokens` scored targets. Through `score_first`, chunk k is scored with the current weights, then
the chosen parameters (`params`: all | matrices | control) take `epochs` passes of SGD (or AdamW) over chunk k's
already-scored tokens, cut into non-overlapping sequences of `train_seq_len` (gradients summed over ranks and
divided by the global token count, clipped to `grad_clip`), with the LR constant or cosine-decayed over the
chunks. The last chunk is not trained on. Every adapted parameter is restored afterwards, whatever happens, and
the model's own modules are used throughout (no copy).

With epochs = 0 this is exactly the plain evaluation of the same plan (tested), and scores of chunks ≤ k never
depend on tokens after chunk k (tested by perturbation). Sources: PR #473's protocol as used in #601
(`TTT_LEGAL=1`, SPEC_SEEDS.md §1.8) and #549/#1413's whole-model variant (32K chunks, SGD lr 0.005, momentum 0.9,
3 epochs, cosine across chunks, clip 1.0 — this module's defaults). Adds no bytes to the artifact.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor, nn

from pgolf.errors import PgolfError
from pgolf.eval.batches import BatchStats
from pgolf.eval.bpb import BpbAccumulator, DeviceLUT, EvalResult
from pgolf.eval.config import TTTConfig
from pgolf.eval.plan import Window, model_bos, sliding_plan, split_for_rank
from pgolf.eval.score_first import Ledger, Released, ScoredChunk, score_first
from pgolf.eval.scorer import WindowScorer
from pgolf.eval.sliding import device_stream
from pgolf.model.control import CONTROL_PATTERNS
from pgolf.model.layers import CastedLinear
from pgolf.runtime.dist import Runtime, all_reduce_
from pgolf.runtime.progress import bar


@dataclass
class TTTResult:
    result: EvalResult
    stats: dict
    chunks: list[ScoredChunk] = field(default_factory=list)  # filled when keep=True


def chunk_plan(plan: list[Window], chunk_tokens: int) -> list[list[Window]]:
    """Consecutive windows grouped until each group scores ≥ chunk_tokens targets (the last may score fewer)."""
    chunks, cur, n = [], [], 0
    for w in plan:
        cur.append(w)
        n += w.length - w.first
        if n >= chunk_tokens:
            chunks.append(cur)
            cur, n = [], 0
    if cur:
        chunks.append(cur)
    return chunks


def select_params(model: nn.Module, which: str, control_patterns: tuple[str, ...]) -> list[tuple[str, nn.Parameter]]:
    """The adapted parameters: all | matrices (every CastedLinear weight) | control (tensors with < 2 dims and the
    run's `quant.control_patterns`)."""
    if which == "all":
        return list(model.named_parameters())
    if which == "matrices":
        ids = {id(m.weight) for m in model.modules() if isinstance(m, CastedLinear)}
        return [(n, p) for n, p in model.named_parameters() if id(p) in ids]
    return [(n, p) for n, p in model.named_parameters() if p.ndim < 2 or any(s in n for s in control_patterns)]


def make_optimizer(params: list[Tensor], t: TTTConfig) -> torch.optim.Optimizer:
    if t.optimizer == "adam":
        return torch.optim.AdamW(params, lr=t.lr, betas=(t.momentum, t.beta2), eps=t.adam_eps,
                                 weight_decay=t.weight_decay)
    return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)


def chunk_lr(t: TTTConfig, k: int, n_chunks: int) -> float:
    """LR for the update after chunk k of n: constant, or cosine from lr (k = 0) towards 0 (k = n − 1)."""
    if t.lr_schedule == "constant" or n_chunks <= 1:
        return t.lr
    return t.lr * 0.5 * (1.0 + math.cos(math.pi * k / (n_chunks - 1)))


def train_sequences(tok: Tensor, L: int) -> tuple[Tensor, Tensor, Tensor]:
    """Cut n+1 tokens into ⌈n/L⌉ rows of (x, y, mask) of length L; the last row is padded and masked."""
    n = tok.numel() - 1
    rows = -(-n // L)
    pad = torch.zeros(rows * L + 1, dtype=torch.int64, device=tok.device)
    pad[: n + 1] = tok
    x, y = pad[:-1].view(rows, L), pad[1:].view(rows, L)
    mask = (torch.arange(rows * L, device=tok.device) < n).view(rows, L)
    return x, y, mask


def adapt_full_model(released: Released, scorer: WindowScorer, params: list[nn.Parameter],
                     opt: torch.optim.Optimizer, t: TTTConfig, L: int, lr: float, rt: Runtime,
                     step_rows: int) -> int:
    """`epochs` passes over the released chunk in steps of step_rows sequences (over all ranks, the same for every
    chunk so that shapes stay fixed); returns the number of optimizer steps."""
    lo, hi = released.span()
    x, y, mask = train_sequences(released.tokens(lo, hi), L)
    for g in opt.param_groups:
        g["lr"] = lr
    B, W = step_rows, rt.world_size
    local_rows = -(-B // W)
    steps = 0
    for _ in range(t.epochs):
        for b in range(0, x.size(0), B):
            rows = split_for_rank(list(range(b, min(b + B, x.size(0)))), rt.rank, W)
            xb = torch.zeros(local_rows, L, dtype=x.dtype, device=x.device)
            yb, mb = torch.zeros_like(xb), torch.zeros(local_rows, L, dtype=torch.bool, device=x.device)
            if rows:
                xb[: len(rows)], yb[: len(rows)], mb[: len(rows)] = x[rows], y[rows], mask[rows]
            count = float(mask[b : b + B].sum())
            loss = torch.where(mb, scorer.losses(xb, yb).float(), 0.0).sum() / count
            opt.zero_grad(set_to_none=False)
            loss.backward()
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                all_reduce_(p.grad, rt)
            if t.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, t.grad_clip)
            opt.step()
            steps += 1
    return steps


def eval_ttt_full(model: nn.Module, tokens: np.ndarray, seq_len: int, stride: int, doc_aware: bool,
                  t: TTTConfig, lut: DeviceLUT, rt: Runtime, batch_tokens: int, compile: bool = False,
                  keep: bool = False, scorer: WindowScorer | None = None, bos_id: int | None = None,
                  control_patterns: tuple[str, ...] = CONTROL_PATTERNS) -> TTTResult:
    """Score-first full-model TTT over the plan of (seq_len, stride, doc_aware); weights restored afterwards.
    control_patterns: the run's quant.control_patterns (params=control adapts those; default: the default list).
    bos_id: where doc_aware splits documents, by default the model's own cfg.bos_id."""
    if doc_aware and bos_id is None:
        bos_id = model_bos(model)
    plan = sliding_plan(tokens, seq_len, stride, doc_aware, bos_id)
    chunks = chunk_plan(plan, t.chunk_tokens)
    named = select_params(model, t.params, control_patterns)
    if not named:
        raise PgolfError(f"eval.ttt.params={t.params!r}: selects no parameter of this model")
    params = [p for _, p in named]
    saved = [p.detach().clone() for p in params]
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    chosen = {id(p) for p in params}
    scorer = scorer or WindowScorer(model, seq_len, batch_tokens, rt.device, rt.autocast, compile=compile)
    L = t.train_seq_len or seq_len
    spans = [sum(w.length - w.first for w in c) for c in chunks[:-1]] or [1]
    step_rows = min(t.batch_seqs, -(-max(spans) // L))
    acc, ledger = BpbAccumulator(lut, rt.device), Ledger(np.asarray(tokens).size - 1)
    stats = {"method": "full", "chunks": len(chunks), "steps": 0, "params": sum(p.numel() for p in params),
             "train_seconds": 0.0, "warmup_seconds": 0.0}
    kept: list[ScoredChunk] = []
    was_training = model.training
    model.eval()

    def score(stream: Tensor, wins: list[Window]) -> list[Tensor]:
        return scorer.score(stream, split_for_rank(wins, rt.rank, rt.world_size), acc, keep=keep, progress=False)

    def adapt(released: Released) -> None:
        t0 = time.perf_counter()
        lr = chunk_lr(t, released.index, len(chunks))
        stats["steps"] += adapt_full_model(released, scorer, params, opt, t, L, lr, rt, step_rows)
        stats["train_seconds"] += time.perf_counter() - t0

    try:
        for p in model.parameters():
            p.requires_grad_(id(p) in chosen)
        if scorer.compiled:  # every graph the pass needs, on random tokens (never on val tokens)
            V = model.cfg.vocab_size
            stats["warmup_seconds"] = (scorer.warmup(scorer.all_shapes(plan), V)
                                       + scorer.warmup({(-(-step_rows // rt.world_size), L)}, V, grad=True))
        opt = make_optimizer(params, t)
        scorer.stats = BatchStats()
        for chunk in bar(score_first(device_stream(tokens, rt.device), chunks, ledger, score, adapt), "eval TTT",
                         total=len(chunks), unit="chunk"):
            if keep:
                kept.append(chunk)
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
                p.grad = None
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])
        model.train(was_training)
    speed = {**scorer.stats.to_dict(), "path": scorer.describe()}
    return TTTResult(replace(acc.result(rt), speed=speed), stats, kept)
