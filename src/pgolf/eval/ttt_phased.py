"""Phased score-first TTT: #1855's per-document LoRA pass with global SGD phases (SPEC_FRONTIER.md §5.3–§5.6).

Queue (#1855's order). The stream's documents (pgolf.eval.plan.doc_spans) are sorted by length, shortest first
(stable), cut into batches of S = lora.batch_docs, and the batches are then taken longest first (stable). On W
ranks, round r gives batch r·W + k to rank k. Document boundaries are inputs of the schedule, as in every
per-document TTT since #1530: the order depends on where the BOS tokens are, never on any other token.

One batch. Adapters (pgolf.eval.lora.LoRABank: per virtual slot, on the lora.targets, and on the LM head with
lora.lm_head) are reset — B = 0, A kept with warm_start_a (#1767) — and the Adam state starts fresh. A short last
batch runs on fresh adapters (#1855 builds new modules for it) and the warm A is put back afterwards. Document
(d, n) is cut into chunks of C targets (C = lora.short_doc_chunk[i] for the first short_doc_len[i] ≥ n, #2014,
else eval.ttt.chunk_tokens); chunk c scores targets c·C+1 .. min((c+1)·C, n) of the document with a window that
ends at the chunk's end and starts max(0, end − T) — so a document's last chunk keeps a full window of context
(#1855's geometry; `lora_chunk_plan` cuts that window at (c+1)·C − T instead). For c = 0, 1, …: one forward of
chunk c of every document of the batch; its losses are scored (tilted by the n-gram hints with eval.ttt.tilt) and
committed to the ledger; then, unless it is the document's last chunk, each document's mean untilted loss over
the chunk drives one Adam step of its adapters (betas (momentum, beta2), weight decay), after the ledger confirms
every target of every window trained on was scored. Per-slot gradient clipping when grad_clip > 0 (#1855: none).

Phases (eval.ttt.phased). After a round, once the documents scored so far (queue order) reach the next boundary
⌊prefix_docs·(i+1)/num_phases⌋, the pass pauses: the scored documents sorted by (batch, position) — the first
`boundary` of them — train every base weight by pgolf.eval.ttt_global (ledger-checked; attention isolated per
document with phased.isolate_docs, named in stats["global_attention"]), the adapters are drawn afresh, and the pass resumes on later batches. The model's weights are restored when the evaluation ends.

Legality (tested): a token's value never changes a loss scored before it in time (C3) and, without the tilt,
depends on nothing after it in its document (C1); every target is scored exactly once (C4); the tilt's
distribution sums to 1 (C2). The tilt's hints are statistics of the stream prefix (pgolf.eval.ngram_tilt).
Compile (CUDA): every shape is warmed on random tokens, forward and backward, before the pass (never on val).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.eval.asym_logit import head_logits
from pgolf.eval.bpb import BpbAccumulator, DeviceLUT
from pgolf.eval.config import LoRATTTConfig, NgramTiltConfig, PhasedTTTConfig, TTTConfig
from pgolf.eval.lora import LoRABank
from pgolf.eval.ngram_tilt import build_hints, tilted_nll
from pgolf.eval.plan import Window, doc_spans, model_bos
from pgolf.eval.score_first import Ledger
from pgolf.eval.scorer import bucket_length, window_batch
from pgolf.eval.sliding import device_stream
from pgolf.eval.ttt import TTTResult, make_optimizer
from pgolf.eval.ttt_global import global_attention, global_sgd_phase, merge_ledgers, phase_tokens
from pgolf.runtime.dist import Runtime

EMPTY = Window(0, 0, 0)
TARGETS_1855 = ("attn.c_q", "attn.c_k", "attn.c_v", "attn", "mlp")  # Q, K, V, O (parallel), MLP (parallel)


def pr1855_ttt() -> TTTConfig:
    """#1855's eval TTT (its launch line and Hyperparameters): rank 80, α 144, warm A, lm_head, Adam lr 1e−4
    β (0, 0.99) eps 1e−10 wd 0.5, 48-target chunks, 64 documents a batch, no per-document clip; 3 global phases
    at 833/1666/2500 documents (SGD lr 1e−3, momentum 0.9, 32K chunks, batch 32, clip 1)."""
    return TTTConfig(chunk_tokens=48, epochs=1, optimizer="adam", lr=1e-4, momentum=0.0, beta2=0.99,
                     adam_eps=1e-10, weight_decay=0.5, grad_clip=0.0, lr_schedule="constant",
                     lora=LoRATTTConfig(rank=80, alpha=144.0, targets=TARGETS_1855, batch_docs=64,
                                        a_init="per_slot", warm_start_a=True, lm_head=True),
                     phased=PhasedTTTConfig(prefix_docs=2500, num_phases=3))


def pr2135_ttt() -> TTTConfig:
    """#2135 (its README's launch line): #1855's with lr 8e−5, wd 2.0, no K adapter (TTT_K_LORA=0), one phase of
    2500 documents, and the token-only n-gram tilt (order 16, threshold 0.8, boost 2.625)."""
    t = pr1855_ttt()
    return replace(t, lr=8e-5, weight_decay=2.0,
                   lora=replace(t.lora, targets=("attn.c_q", "attn.c_v", "attn", "mlp")),
                   phased=PhasedTTTConfig(prefix_docs=2500, num_phases=1), tilt=NgramTiltConfig())


def queue(docs: list[tuple[int, int]], S: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """(batch id, documents) in #1855's order (module docstring)."""
    key = [n for _, n in docs]
    order = sorted(range(len(docs)), key=lambda i: key[i])
    batches = [[docs[i] for i in order[k : k + S]] for k in range(0, len(order), S)]
    lens = [max(key[i] for i in order[k : k + S]) for k in range(0, len(order), S)]
    return sorted(enumerate(batches), key=lambda ib: -lens[ib[0]])


def doc_chunk(n: int, lo: LoRATTTConfig, C: int) -> int:
    return next((c for m, c in zip(lo.short_doc_len, lo.short_doc_chunk) if n <= m), C)


def doc_windows(d: int, n: int, T: int, C: int) -> list[Window]:
    """#1855's chunk windows of document (d, n): chunk c ends at min((c+1)·C, n) and starts max(0, end − T)."""
    out = []
    for c in range(-(-n // C)):
        end = min((c + 1) * C, n)
        start = max(0, end - T)
        out.append(Window(d + start, end - start, c * C - start))
    return out


def phase_boundaries(n_docs: int, prefix_docs: int, num_phases: int) -> list[int]:
    limit = max(0, min(n_docs, prefix_docs))
    return [limit * (i + 1) // num_phases for i in range(num_phases)] if limit else []


class PhasedPass:
    """State of one phased evaluation: the model, its adapters, the ledger and the BPB sums."""

    def __init__(self, model: nn.Module, tokens: np.ndarray, T: int, t: TTTConfig, lut: DeviceLUT, rt: Runtime,
                 compile: bool, backend: str):
        lo = t.lora
        self.model, self.tokens, self.T, self.t, self.rt = model, tokens, T, t, rt
        self.S = lo.batch_docs
        head = (model.cfg.model_dim, model.cfg.vocab_size) if lo.lm_head else None
        self.bank = LoRABank(model, lo.targets, lo.rank, lo.alpha, self.S, lo.seed, rt.device, lo.a_init, head)
        self.stream = device_stream(tokens, rt.device)
        self.acc, self.ledger = BpbAccumulator(lut, rt.device), Ledger(np.asarray(tokens).size - 1)
        self.hints = None
        if t.tilt is not None:
            h, g = build_hints(tokens, t.tilt)
            self.hints = (torch.from_numpy(h).to(rt.device), torch.from_numpy(g).to(rt.device))
        self.fn = self.losses
        if compile:
            torch._dynamo.reset()  # graphs traced without the hooks must not be reused (pgolf.eval.ttt_lora)
            self.fn = torch.compile(self.losses, dynamic=False, backend=backend)
        self.stats = {"method": "phased", "docs": 0, "batches": 0, "chunks": 0, "steps": 0, "phases": 0,
                      "global_steps": 0, "adapter_params_per_doc": self.bank.numel_per_slot(),
                      "train_seconds": 0.0, "global_seconds": 0.0, "warmup_seconds": 0.0}
        self.kept: list[tuple[Tensor, Tensor]] = []  # (targets, scored losses) per chunk, in scoring order (keep)
        self.keep = False

    def losses(self, x: Tensor, y: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """(NLL of y, log p(h)) per position, fp32, with the adapters on (hooks and the LM-head adapter)."""
        with self.rt.autocast():
            hid = self.model.hidden(x)
            delta = self.bank.head_delta(hid) if self.t.lora.lm_head else None
            z = head_logits(self.model, hid, delta).float()
        nll = F.cross_entropy(z.reshape(-1, z.size(-1)), y.reshape(-1), reduction="none").view_as(y)
        log_q = z.gather(-1, h.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(z, dim=-1)
        return nll, log_q

    def warmup(self, shapes: set[int]) -> None:
        """Forward and backward of every (S, L) shape on random tokens; the adapters are reset afterwards."""
        t0 = time.perf_counter()
        g = torch.Generator().manual_seed(0)
        V = self.model.cfg.vocab_size
        for L in sorted(shapes):
            x = torch.randint(0, V, (self.S, L + 1), generator=g).to(self.rt.device)
            nll, lq = self.fn(x[:, :-1], x[:, 1:], x[:, 1:])
            (nll.sum() + lq.sum()).backward()
        self.bank.reset()
        self.stats["warmup_seconds"] = time.perf_counter() - t0

    def run_batch(self, batch: list[tuple[int, int]]) -> None:
        lo, t, S, T = self.t.lora, self.t, self.S, self.T
        fresh = len(batch) < S and t.phased is not None and t.phased.fresh_a_for_partial_batch
        saved = self.bank.snapshot() if fresh else None
        if fresh:
            self.bank.redraw()
        self.bank.reset(keep_a=lo.warm_start_a)
        opt = make_optimizer(self.bank.parameters(), t)
        plans = [doc_windows(d, n, T, doc_chunk(n, lo, t.chunk_tokens)) for d, n in batch]
        for c in range(max(len(p) for p in plans)):
            wins = [p[c] if c < len(p) else EMPTY for p in plans] + [EMPTY] * (S - len(plans))
            train = torch.tensor([c < len(p) - 1 for p in plans] + [False] * (S - len(plans)), device=self.rt.device)
            L = bucket_length(max(w.length for w in wins), T)
            x, y, mask, pos = window_batch(self.stream, wins, S, L, with_pos=True)  # pos: targets' stream indices
            h = gate = None
            if self.hints is not None:
                h, gate = self.hints[0][pos], self.hints[1][pos] & mask
            nll, log_q = self.fn(x, y, y if h is None else h)
            with torch.no_grad():
                scored = nll.detach() if h is None else tilted_nll(nll.detach(), log_q.detach(), y, h, gate,
                                                                     t.tilt.boost)
                self.acc.add_masked(scored, x, y, mask, pos)
                if self.keep:
                    self.kept.append((pos[mask].cpu(), scored[mask].cpu()))
            self.ledger.commit(wins)
            self.stats["chunks"] += 1
            if t.epochs == 0 or not bool(train.any()):
                continue
            t0 = time.perf_counter()
            for w, tr in zip(wins, train.tolist()):
                if tr:
                    self.ledger.require(w.start + 1, w.hi)
            for e in range(t.epochs):
                if e > 0:  # more steps on the same chunk need a fresh forward
                    nll, _ = self.fn(x, y, y)
                m = mask & train[:, None]
                per_doc = torch.where(m, nll, 0.0).sum(1) / m.sum(1).clamp_min(1)
                opt.zero_grad(set_to_none=True)
                per_doc.sum().backward()
                self.bank.clip_per_slot_(t.grad_clip)
                opt.step()
                self.stats["steps"] += 1
            self.stats["train_seconds"] += time.perf_counter() - t0
        if saved is not None:
            self.bank.restore(saved)


def eval_ttt_phased(model: nn.Module, tokens: np.ndarray, seq_len: int, t: TTTConfig, lut: DeviceLUT,
                    rt: Runtime, compile: bool = False, backend: str = "inductor", bos_id: int | None = None,
                    keep: bool = False) -> TTTResult:
    """keep → result.stats["kept"]: (targets, scored losses) per chunk in scoring order (tests). Documents split at
    bos_id, by default the model's own cfg.bos_id."""
    ph, W = t.phased, rt.world_size
    docs = doc_spans(tokens, model_bos(model) if bos_id is None else bos_id)
    q = queue(docs, t.lora.batch_docs)
    bounds = phase_boundaries(len(docs), ph.prefix_docs, ph.num_phases) if ph is not None else []
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    was_training = model.training
    run = PhasedPass(model, tokens, seq_len, t, lut, rt, compile, backend)
    run.stats.update(docs=len(docs), batches=len(q), boundaries=bounds)
    if bounds:
        run.stats["global_attention"] = global_attention(model, ph, rt.is_cuda)
    run.keep = keep
    scored: list[tuple[int, int, tuple[int, int]]] = []  # (batch id, position, document) scored while phases remain
    try:
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        run.bank.attach()
        if compile:
            shapes = {bucket_length(w.length, seq_len) for _, b in q for d, n in b
                      for w in doc_windows(d, n, seq_len, doc_chunk(n, t.lora, t.chunk_tokens))}
            run.warmup(shapes)
        for r in range(0, len(q), W):
            if r + rt.rank < len(q):
                run.run_batch(q[r + rt.rank][1])
            if run.stats["phases"] >= len(bounds):
                continue
            scored += [(bid, i, doc) for bid, b in q[r : r + W] for i, doc in enumerate(b)]
            if len(scored) < bounds[run.stats["phases"]]:
                continue
            t0 = time.perf_counter()
            chosen = [doc for *_, doc in sorted(scored)[: bounds[run.stats["phases"]]]]
            merge_ledgers(run.ledger, rt)
            seq = phase_tokens(tokens, chosen, run.ledger)
            run.bank.detach()
            run.stats["global_steps"] += global_sgd_phase(model, seq, ph, seq_len, rt, bos_id)
            for p in model.parameters():
                p.requires_grad_(False)
            run.bank.attach()
            run.bank.redraw()
            run.stats["phases"] += 1
            run.stats["global_seconds"] += time.perf_counter() - t0
    finally:
        run.bank.detach()
        if compile:
            torch._dynamo.reset()
        model.load_state_dict(saved)
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])
        model.train(was_training)
    if keep:
        run.stats["kept"] = run.kept
    return TTTResult(run.acc.result(rt), run.stats)
