"""One global score-first SGD phase of phased TTT (#1610/#1626/#1855; SPEC_FRONTIER.md §5.4).

The documents already scored are concatenated (each document's tokens d..d+n, its last one the next document's
BOS) and all base weights take `epochs` passes of SGD (momentum, no weight decay) over them: the stream is cut
into chunks of chunk_tokens targets and chunk c is trained as ⌊len/T⌋ rows of T tokens, batch_seqs rows per
step (mean NLL through pgolf.eval.asym_logit.head_logits, so AsymLogit's caps train here), with the LR
cosine-decayed over the chunks (lr·½(1 + cos(π c / (chunks − 1)))), gradients averaged over
ranks and clipped to grad_clip. As in #1855, the last chunk and a chunk's tail shorter than T are not trained on.

Document isolation (phased.isolate_docs, default on: #1855's and #2135's GLOBAL_TTT_RESPECT_DOC_BOUNDARIES=1).
A step's rows (a contiguous span of the concatenation) run as ONE flat row of rows·T tokens through the model's
varlen path (pgolf.model.features.varlen): segments start at 0, at every BOS and every T tokens inside a document
(pgolf.data.packed.cu_seqlens_of: the packed trainer's cu_seqlens, padded to a multiple of 64, max_seqlen = T as
the trainer's fixed bound), so no token attends across a document boundary, while a document that straddles two
rows of T stays one segment (up to T tokens), as in the record. The kernel is the model's: FA3
flash_attn_varlen_func on CUDA when importable, else the exact masked SDPA, banded in blocks of T (work ≈ 2× rows
of T); a model built without model.varlen gets `auto`. `global_attention` names the path (the
phased pass puts it in its stats). On W ranks each rank's rows form its own flat row, so a document straddling two
ranks' rows is cut there: the isolated phase depends on W, as the record's does. Off: plain causal rows of T tokens
that may span a document boundary (then W-invariant).
Invariant (tests/eval/test_ttt_global.py): the isolated loss and gradients equal the sum over segments run alone.
Only attention is cut: a gated SmearGate without its BOS fix (#2135 as run) still mixes the previous document's
last token into a BOS position, in the record as here.

Legality: before anything is trained the ledger (merged over ranks) must confirm that every target of every
document is scored (pgolf.eval.score_first.Ledger; a LegalityError otherwise); the separator pair between two
concatenated documents predicts a BOS, which the schedule already knows (documents are split at BOS).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from pgolf.data.packed import cu_seqlens_of
from pgolf.eval.asym_logit import head_logits
from pgolf.eval.config import PhasedTTTConfig
from pgolf.eval.score_first import Ledger
from pgolf.runtime.dist import Runtime, all_reduce_


def merge_ledgers(ledger: Ledger, rt: Runtime) -> None:
    """On several ranks, each ledger knows what its own rank scored: OR them (an all-reduce MAX, which also waits
    for every rank to have finished scoring its batches of the round) before a phase trains on any document."""
    if rt.world_size == 1:
        return
    done = torch.from_numpy(ledger.done.astype(np.uint8)).to(rt.device)
    all_reduce_(done, rt, op=dist.ReduceOp.MAX)
    ledger.done[:] = done.cpu().numpy().astype(bool)


def phase_tokens(tokens: np.ndarray, docs: list[tuple[int, int]], ledger: Ledger) -> torch.Tensor:
    """The scored documents' tokens, concatenated (each after the ledger confirmed its targets were scored)."""
    parts = []
    for d, n in docs:
        ledger.require(d + 1, d + n)
        parts.append(np.asarray(tokens[d : d + n + 1], dtype=np.int64))
    return torch.from_numpy(np.concatenate(parts)) if parts else torch.zeros(0, dtype=torch.int64)


def phase_lr(ph: PhasedTTTConfig, c: int, chunks: int) -> float:
    return ph.lr * 0.5 * (1.0 + math.cos(math.pi * c / max(chunks - 1, 1)))


def ensure_varlen(model: nn.Module, on_cuda: bool) -> None:
    """A model built without model.varlen gets the `auto` kernel (used only where cu_seqlens are passed)."""
    if getattr(model, "varlen_kernel", None) is None:
        model.resolve_varlen(on_cuda, "auto")


def global_attention(model: nn.Module, ph: PhasedTTTConfig, on_cuda: bool) -> str:
    """Resolve (once) and name the attention the global phase trains with (module docstring)."""
    if not ph.isolate_docs:
        return "rows of T, documents not isolated (eval.ttt.phased.isolate_docs=false)"
    ensure_varlen(model, on_cuda)
    kernel = model.varlen_kernel if on_cuda else "masked"
    how = "FA3 flash_attn_varlen_func" if kernel == "fa3" else "exact masked SDPA"
    return f"documents isolated: one flat row per step, cu_seqlens at BOS, {how}"


def phase_logits(model: nn.Module, xy: torch.Tensor, T: int, ph: PhasedTTTConfig, rt: Runtime,
                 bos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(capped fp32 logits, targets) of one step: xy holds rows·T + 1 tokens of the concatenation (on the device);
    shapes (1, rows·T, ·) when documents are isolated, (rows, T, ·) otherwise."""
    x, y = xy[:-1], xy[1:]
    kw = {}
    if ph.isolate_docs:
        ensure_varlen(model, rt.is_cuda)
        cu = cu_seqlens_of(x.cpu().numpy(), bos_id, T, 64)[0]
        x, y, kw = x[None], y[None], {"cu_seqlens": torch.from_numpy(cu).to(x.device), "max_seqlen": T}
    else:
        x, y = x.view(-1, T), y.view(-1, T)
    with rt.autocast():
        z = head_logits(model, model.hidden(x, **kw)).float()
    return z, y


def phase_loss(model: nn.Module, xy: torch.Tensor, T: int, ph: PhasedTTTConfig, rt: Runtime,
               bos_id: int) -> torch.Tensor:
    """Mean NLL of one step over all its rows·T targets."""
    z, y = phase_logits(model, xy, T, ph, rt, bos_id)
    return F.cross_entropy(z.reshape(-1, z.size(-1)), y.reshape(-1))


def global_sgd_phase(model: nn.Module, seq: torch.Tensor, ph: PhasedTTTConfig, T: int, rt: Runtime,
                     bos_id: int) -> int:
    """Train every parameter of `model` on the token sequence `seq` (on CPU); → optimizer steps taken."""
    global_attention(model, ph, rt.is_cuda)
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.SGD(params, lr=ph.lr, momentum=ph.momentum)
    total = seq.numel() - 1
    chunks = -(-total // ph.chunk_tokens) if total > 0 else 0
    W, B, steps = rt.world_size, ph.batch_seqs, 0
    try:
        for c in range(chunks - 1):  # the last chunk is never trained on (#1855)
            lo = c * ph.chunk_tokens
            n_seqs = (min(lo + ph.chunk_tokens, total) - lo) // T
            if n_seqs <= 0:
                continue
            for g in opt.param_groups:
                g["lr"] = phase_lr(ph, c, chunks)
            mine = range(n_seqs * rt.rank // W, n_seqs * (rt.rank + 1) // W)
            per_rank = -(-n_seqs // W)
            n_steps = -(-per_rank // B)  # the same on every rank: ⌈⌈n/W⌉/B⌉
            for _ in range(ph.epochs):
                for s in range(n_steps):
                    rows = list(mine[s * B : (s + 1) * B])
                    opt.zero_grad(set_to_none=False)
                    if rows:
                        a, b = lo + rows[0] * T, lo + (rows[-1] + 1) * T
                        phase_loss(model, seq[a : b + 1].to(rt.device), T, ph, rt, bos_id).backward()
                    for p in params:
                        if p.grad is None:
                            p.grad = torch.zeros_like(p)
                        if W > 1:
                            all_reduce_(p.grad, rt)
                            p.grad.div_(W)
                    if ph.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(params, ph.grad_clip)
                    opt.step()
                    steps += 1
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
            p.grad = None
    return steps
