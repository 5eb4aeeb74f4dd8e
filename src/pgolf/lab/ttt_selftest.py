"""Score-first self-test of a pgolf artifact's test-time training, by perturbation (SPEC_FRONTIER.md §5.1, C1/C3).

Legal TTT (issue #1017) scores every chunk before any update that uses it. So on a token stream S, the losses of
every chunk whose windows (context and targets) end before position p cannot change when the tokens from p on are
replaced — whatever the adapter did with the chunks it had already scored. The test:

1. load the artifact's model on the CPU; build a random stream of 4 chunks (fixed seed; full-model TTT: chunks of
   T tokens, a BOS every T/2; LoRA TTT: one document, chunks of T/4 tokens);
2. run the run's own TTT (`eval.ttt` of its config: full-model or per-document LoRA) with `keep=True`, with only
   the chunk size changed so that several chunks fit a CPU-sized stream; every other setting is the run's;
3. p = one past the last target of chunk 1 (so one update happened before a compared chunk was scored), replace
   S[p:] with other random tokens, run again;
4. pass when every chunk ending before p has bitwise identical losses in both runs, fail naming the first that
   differs. A config without TTT passes (nothing adapts at evaluation).

The test does not read validation data: the stream is random tokens, like the frontier's compile warmup (#1855).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from pgolf.data.tokenizer import ByteLUT
from pgolf.eval.bpb import DeviceLUT
from pgolf.eval.config import EvalConfig
from pgolf.eval.plan import model_bos
from pgolf.eval.ttt import eval_ttt_full
from pgolf.eval.ttt_lora import eval_ttt_lora
from pgolf.model.control import CONTROL_PATTERNS
from pgolf.runtime.dist import Runtime

CPU = Runtime(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), distributed=False)


def _run(model, tokens: np.ndarray, e: EvalConfig, seq_len: int, lut: DeviceLUT, control: tuple[str, ...]):
    t = e.ttt
    if t.lora is not None:
        return eval_ttt_lora(model, tokens, seq_len, t, lut, CPU, keep=True, bos_id=model_bos(model)).chunks
    return eval_ttt_full(model, tokens, seq_len, e.stride, e.doc_aware, t, lut, CPU, max(1, e.batch_tokens),
                         keep=True, bos_id=model_bos(model), control_patterns=control).chunks


def _end(chunk) -> int:
    """The last stream position a chunk's scores may depend on (its last target)."""
    return max((w.hi for w in chunk.windows if w.length), default=-1)


def selftest(model, e: EvalConfig, seq_len: int, control_patterns: tuple[str, ...] = CONTROL_PATTERNS,
             seed: int = 0) -> tuple[str, str]:
    """→ (status, reason): "pass" / "fail" / "unknown". control_patterns: the run's quant.control_patterns (what
    eval.ttt.params=control adapts)."""
    if e.ttt is None:
        return "pass", "no eval.ttt in the config: evaluation never adapts"
    vocab, T, lora = model.cfg.vocab_size, seq_len, e.ttt.lora is not None
    chunk = max(T // 4, 1) if lora else T  # LoRA: chunks inside one document; full: chunks of the stream
    ttt = replace(e.ttt, chunk_tokens=chunk)
    e = replace(e, ttt=ttt, batch_tokens=min(e.batch_tokens, 4 * T) or 4 * T)
    n = 4 * chunk + 1
    period = n if lora else max(T // 2, 2)  # BOS every `period` tokens: one document for LoRA
    rng = np.random.default_rng(seed)
    base = rng.integers(2, vocab, size=n, dtype=np.int64)
    base[::period] = model_bos(model)  # the documents of the model's own config
    lut = DeviceLUT(ByteLUT(np.ones(vocab, np.int16), np.zeros(vocab, np.bool_), np.zeros(vocab, np.bool_)),
                    CPU.device)
    was = model.training
    try:
        first = _run(model, base, e, T, lut, control_patterns)
        if len(first) < 3:
            return "unknown", f"the self-test stream gave {len(first)} TTT chunk(s); need ≥ 3 to compare"
        p = _end(first[1]) + 1
        other = base.copy()
        other[p:] = rng.integers(2, vocab, size=n - p, dtype=np.int64)
        other[p:][(np.arange(p, n) % period) == 0] = model_bos(model)
        second = _run(model, other, e, T, lut, control_patterns)
    finally:
        model.train(was)
    compared = [(a, b) for a, b in zip(first, second) if _end(a) < p]
    for a, b in compared:
        if len(a.nll) != len(b.nll) or any(not torch.equal(x, y) for x, y in zip(a.nll, b.nll)):
            return "fail", (f"chunk {a.index}'s losses changed when only tokens ≥ {p} (after it) changed: the TTT "
                            f"used tokens before scoring them")
    if not any(a.index >= 1 for a, _ in compared):
        return "unknown", "no chunk after an update ended before the perturbation"
    kind = "per-document LoRA" if ttt.lora is not None else f"full-model ({ttt.params})"
    return "pass", (f"{kind} TTT: losses of chunks 0–{compared[-1][0].index} unchanged when tokens ≥ {p} change "
                    f"({len(first)} chunks of {chunk} tokens, random stream)")
