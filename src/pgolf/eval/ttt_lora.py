"""Per-document LoRA test-time training, score-first within each document (SPEC_FRONTIER.md §5.3).

The val stream is split into documents at BOS (pgolf.eval.plan.doc_spans). Documents are sorted by length
(longest first) and taken `lora.batch_docs` at a time; batches go round-robin to the ranks. In a batch every
document gets fresh adapters (LoRABank.reset: B = 0, A = A₀) and is cut into chunks of `chunk_tokens` targets
(pgolf.eval.plan.lora_chunk_plan: window ≤ T inside the document). For c = 0, 1, …, through `score_first`:
score chunk c of every document in the batch with its current adapter, then take `epochs` optimizer steps on the
mean NLL of those same, already-scored targets (per-document gradient clipping). A document's predictions
therefore depend only on the artifact and that document's own earlier tokens. The model's weights are never
changed; the hooks are removed afterwards. With epochs = 0 (or B = 0 throughout) the result equals the
document-aware sliding evaluation with stride = chunk_tokens whenever chunk_tokens divides T (tested).

With torch.compile, Dynamo does not guard on forward hooks (torch._dynamo.config.skip_nnmodule_hook_guards), so
a graph traced before the hooks were attached would silently ignore them: the Dynamo cache is reset when the
hooks are attached and again when they are removed (tested with the aot_eager backend).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor, nn

from pgolf.eval.bpb import BpbAccumulator, DeviceLUT
from pgolf.eval.config import LoRATTTConfig, TTTConfig
from pgolf.eval.lora import LoRABank
from pgolf.eval.plan import Window, doc_spans, lora_chunk_plan, model_bos
from pgolf.eval.score_first import Ledger, Released, ScoredChunk, score_first
from pgolf.eval.scorer import WindowScorer, bucket_length, window_batch
from pgolf.eval.sliding import device_stream
from pgolf.eval.ttt import TTTResult, make_optimizer
from pgolf.runtime.dist import Runtime
from pgolf.runtime.progress import bar

EMPTY = Window(0, 0, 0)
LORA_LR = 1e-3


def doc_batches(tokens: np.ndarray, batch_docs: int, rank: int, world_size: int,
                bos_id: int) -> list[list[tuple[int, int]]]:
    """This rank's batches of (start, n) documents: longest first, batches dealt round-robin to ranks."""
    docs = sorted(doc_spans(tokens, bos_id), key=lambda dn: (-dn[1], dn[0]))
    batches = [docs[i : i + batch_docs] for i in range(0, len(docs), batch_docs)]
    return batches[rank::world_size]


def slot_chunks(batch: list[tuple[int, int]], slots: int, seq_len: int, chunk: int) -> list[list[Window]]:
    """chunks[c][b] = the window of chunk c of document b (EMPTY when that document has fewer chunks)."""
    plans = [lora_chunk_plan(d, n, seq_len, chunk) for d, n in batch]
    plans += [[] for _ in range(slots - len(plans))]
    n_chunks = max(len(p) for p in plans)
    return [[p[c] if c < len(p) else EMPTY for p in plans] for c in range(n_chunks)]


def lora_preset() -> TTTConfig:
    """`--ttt lora`: 64-target chunks, one AdamW step per chunk, rank-8 adapters on Q, V, attention and MLP
    output projections (the CLI's defaults; every field can be overridden with eval.ttt.* words)."""
    return TTTConfig(chunk_tokens=64, epochs=1, optimizer="adam", lr=LORA_LR, momentum=0.9, weight_decay=0.0,
                     grad_clip=1.0, lr_schedule="constant", lora=LoRATTTConfig())


def eval_ttt_lora(model: nn.Module, tokens: np.ndarray, seq_len: int, t: TTTConfig, lut: DeviceLUT,
                  rt: Runtime, compile: bool = False, keep: bool = False, backend: str = "inductor",
                  bos_id: int | None = None) -> TTTResult:
    """Per-document LoRA TTT; documents split at bos_id, by default the model's own cfg.bos_id."""
    bos_id = model_bos(model) if bos_id is None else bos_id
    lo_cfg = t.lora
    S, T, C = lo_cfg.batch_docs, seq_len, t.chunk_tokens
    bank = LoRABank(model, lo_cfg.targets, lo_cfg.rank, lo_cfg.alpha, S, lo_cfg.seed, rt.device, lo_cfg.a_init)
    if compile:
        torch._dynamo.reset()  # graphs traced without the hooks must not be reused (module docstring)
    scorer = WindowScorer(model, T, S * T, rt.device, rt.autocast, compile=compile, backend=backend)
    stream = device_stream(tokens, rt.device)
    acc, ledger = BpbAccumulator(lut, rt.device), Ledger(np.asarray(tokens).size - 1)
    batches = doc_batches(tokens, S, rt.rank, rt.world_size, bos_id)
    stats = {"method": "lora", "docs": sum(len(b) for b in batches), "batches": len(batches), "chunks": 0,
             "steps": 0, "adapter_params_per_doc": bank.numel_per_slot(), "train_seconds": 0.0, "warmup_seconds": 0.0}
    kept: list[ScoredChunk] = []
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    was_training = model.training

    def length(wins: list[Window]) -> int:
        return bucket_length(max(w.length for w in wins), T)

    def score(stream: Tensor, wins: list[Window]) -> list[Tensor]:
        t0 = time.perf_counter()
        x, y, mask, pos = window_batch(stream, wins, S, length(wins), with_pos=True)
        nll = scorer.losses(x, y).float()
        acc.add_masked(nll, x, y, mask, pos)
        # one row per document slot (the LoRA bank's batch): empty slots and short windows are the padding
        scorer.stats.add(S, x.size(1), sum(w.length for w in wins), sum(w.length - w.first for w in wins if w.length))
        if rt.is_cuda:
            torch.cuda.synchronize(rt.device)
        scorer.stats.seconds += time.perf_counter() - t0
        return [nll[b][mask[b]].cpu() for b, w in enumerate(wins) if w.length] if keep else []

    def adapt(released: Released) -> None:
        t0 = time.perf_counter()
        x, y, mask = released.batch(released.windows, S, length(released.windows))
        per_doc = mask.sum(1).clamp_min(1).float()
        for _ in range(t.epochs):
            nll = torch.where(mask, scorer.losses(x, y).float(), 0.0)
            opt.zero_grad(set_to_none=True)
            (nll.sum(1) / per_doc).sum().backward()
            bank.clip_per_slot_(t.grad_clip)
            opt.step()
            stats["steps"] += 1
        stats["train_seconds"] += time.perf_counter() - t0

    try:
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        bank.attach()
        if compile:  # every graph the pass needs, on random tokens (never on val tokens)
            shapes = {(S, length(ch)) for b in batches for ch in slot_chunks(b, S, T, C)}
            V = model.cfg.vocab_size
            stats["warmup_seconds"] = scorer.warmup(shapes, V) + scorer.warmup(shapes, V, grad=True)
        for batch in bar(batches, "eval TTT (LoRA)", unit="batch"):
            bank.reset(keep_a=lo_cfg.warm_start_a)
            opt = make_optimizer(bank.parameters(), t)
            chunks = slot_chunks(batch, S, T, C)
            stats["chunks"] += len(chunks)
            for chunk in score_first(stream, chunks, ledger, score, adapt):
                if keep:
                    kept.append(chunk)
    finally:
        bank.detach()
        if compile:
            torch._dynamo.reset()
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])
        model.train(was_training)
    how = "torch.compile(token_losses, dynamic=False)" if scorer.compiled else f"eager ({rt.device.type})"
    speed = {**scorer.stats.to_dict(), "path": f"{S} document slots per batch (the LoRA bank's rows), {how}"}
    return TTTResult(replace(acc.result(rt), speed=speed), stats, kept)
