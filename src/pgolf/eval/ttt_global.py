"""One global score-first SGD phase of phased TTT (#1610/#1626/#1855; SPEC_FRONTIER.md §5.4).

The documents already scored are concatenated (each document's tokens d..d+n, its last one the next document's
BOS) and all base weights take `epochs` passes of SGD (momentum, no weight decay) over them: the stream is cut
into chunks of chunk_tokens targets and chunk c is trained as ⌊len/T⌋ rows of T tokens, batch_seqs rows per
step (mean NLL through pgolf.eval.asym_logit.head_logits, so AsymLogit's caps train here), with the LR
cosine-decayed over the chunks (lr·½(1 + cos(π c / (chunks − 1)))), gradients averaged over
ranks and clipped to grad_clip. As in #1855, the last chunk and a chunk's tail shorter than T are not trained on.

Legality: before anything is trained the ledger (merged over ranks) must confirm that every target of every document is scored
(pgolf.eval.score_first.Ledger; a LegalityError otherwise); the separator pair between two concatenated
documents predicts a BOS, which the schedule already knows (documents are split at BOS).

Rows are plain windows of T tokens that may span a document boundary: #1855 trains them with document-isolated
(varlen) attention (GLOBAL_TTT_RESPECT_DOC_BOUNDARIES=1), which this phase cannot express until the model takes
cu_seqlens (issue 17 item 2); the difference is written in the recipes' docstrings.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

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


def global_sgd_phase(model: nn.Module, seq: torch.Tensor, ph: PhasedTTTConfig, T: int, rt: Runtime) -> int:
    """Train every parameter of `model` on the token sequence `seq` (on CPU); → optimizer steps taken."""
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
                        xy = seq[a : b + 1].to(rt.device)
                        x, y = xy[:-1].view(-1, T), xy[1:].view(-1, T)
                        with rt.autocast():
                            z = head_logits(model, model.hidden(x)).float()
                        loss = F.cross_entropy(z.reshape(-1, z.size(-1)), y.reshape(-1))
                        loss.backward()
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
