"""The eval block of the config tree: validation windows, document-aware scoring and score-first TTT (full-model or
per-document LoRA), owned by pgolf.eval and composed by the root `pgolf.config`. `validate_eval` is also what
`pgolf eval` runs on an artifact's eval settings; nothing here imports the root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pgolf.errors import PgolfError


@dataclass(frozen=True)
class LoRATTTConfig:
    """Per-document LoRA adapters for test-time training (pgolf.eval.lora): rank r, output scale alpha/r, the
    CastedLinear layers they wrap (name suffixes), documents scored side by side, and the seed of the A init."""

    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = ("attn.c_q", "attn.c_v", "attn.proj", "mlp.proj")
    batch_docs: int = 32
    seed: int = 0
    # --- the #1855 adapter layout (pgolf.eval.ttt_phased; a_init and warm_start_a also in pgolf.eval.ttt_lora) ---
    # targets may also name whole `attn` / `mlp` modules: a parallel adapter from the module's input to its output.
    a_init: Literal["shared", "per_slot"] = "shared"  # one A₀ draw for every document, or an independent draw per slot
    warm_start_a: bool = False  # reset() zeroes B only: A keeps what earlier documents taught it (#1767/#1855)
    lm_head: bool = False  # an adapter on the LM head (final hidden → logits, before the softcap); phased path only
    short_doc_len: tuple[int, ...] = ()  # #2014: documents of ≤ short_doc_len[i] targets use chunk short_doc_chunk[i]
    short_doc_chunk: tuple[int, ...] = ()


@dataclass(frozen=True)
class PhasedTTTConfig:
    """Global score-first SGD phases inside the per-document LoRA pass (pgolf.eval.ttt_phased; #1610/#1626): the
    pass pauses when the count of scored documents (queue order) reaches prefix_docs·(i+1)/num_phases, and all base
    weights take `epochs` of SGD on those scored documents (chunks of chunk_tokens, cosine LR across chunks)."""

    prefix_docs: int = 2000
    num_phases: int = 1
    lr: float = 1e-3
    momentum: float = 0.9
    epochs: int = 1
    chunk_tokens: int = 32_768
    batch_seqs: int = 32
    grad_clip: float = 1.0
    fresh_a_for_partial_batch: bool = True  # #1855 builds new adapters for a short batch (its A is a fresh draw)
    # a step's rows as one flat row whose attention stays inside each document (cu_seqlens at BOS, segments ≤ T):
    # #1855's / #2135's GLOBAL_TTT_RESPECT_DOC_BOUNDARIES=1 (their default); false: plain causal rows of T tokens
    isolate_docs: bool = True


@dataclass(frozen=True)
class NgramTiltConfig:
    """Token-only online n-gram tilt of the scored distribution (pgolf.eval.ngram_tilt; #2135 after #1514): a hash of
    the last order−1 tokens proposes the most frequent follower h when its share ≥ threshold, and the model's
    distribution is tilted by e^boost on h and renormalised over the whole vocabulary."""

    order: int = 16
    threshold: float = 0.8
    boost: float = 2.625


@dataclass(frozen=True)
class TTTConfig:
    """Score-first test-time training (pgolf.eval.ttt; SPEC_FRONTIER.md §5). Without `lora`: the whole stream is
    scored in chunks of ~chunk_tokens targets and the model (`params`) is trained on each chunk after it was scored.
    With `lora`: per-document adapters, reset per document, trained on each chunk of chunk_tokens targets of the
    document after it was scored. epochs = optimizer passes per chunk (0 = plain scoring)."""

    chunk_tokens: int = 32_768
    epochs: int = 3
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.005
    momentum: float = 0.9  # SGD momentum, or Adam beta1
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # 0 = off; the LoRA variant clips per document
    lr_schedule: Literal["constant", "cosine"] = "cosine"  # full-model variant: cosine over the chunks
    params: Literal["all", "matrices", "control"] = "all"  # full-model variant: which parameters adapt
    train_seq_len: int = 0  # full-model variant: training sequence length (0 = the eval sequence length)
    batch_seqs: int = 32  # full-model variant: sequences per optimizer step (over all ranks)
    beta2: float = 0.999  # Adam beta2 (#1855: 0.99)
    adam_eps: float = 1e-8  # Adam epsilon (#1855: 1e-10)
    lora: LoRATTTConfig | None = None
    phased: PhasedTTTConfig | None = None  # needs lora: global SGD phases on the scored prefix (#1610/#1626/#1855)
    tilt: NgramTiltConfig | None = None  # needs phased: token n-gram tilt of every scored distribution (#2135)


@dataclass(frozen=True)
class EvalConfig:
    """Validation: sequence length (0 = train.seq_len), stride (0 = non-overlapping), batch and an optional prefix.
    doc_aware keeps every window inside one document (BOS-delimited); ttt adds score-first test-time training to
    the final (round-trip) evaluation; compile = torch.compile of the scoring path on CUDA (CPU runs eager)."""

    seq_len: int = 0
    stride: int = 0
    batch_tokens: int = 524_288
    max_tokens: int = 0  # 0 = the whole val split; > 0 scores only a prefix (smoke runs; flagged in summary.json)
    doc_aware: bool = False
    compile: bool = True
    ttt: TTTConfig | None = None


def validate_eval(e: EvalConfig, T: int) -> EvalConfig:
    """Checks of the eval block at eval sequence length T (also used by `pgolf eval`)."""
    if e.batch_tokens < 1:
        raise PgolfError("eval.batch_tokens: must be ≥ 1")
    tt = e.ttt
    if tt is None:
        return e
    checks = [
        (tt.chunk_tokens >= 1, "eval.ttt.chunk_tokens", "must be ≥ 1"),
        (tt.epochs >= 0, "eval.ttt.epochs", "must be ≥ 0"),
        (tt.lr >= 0 and tt.weight_decay >= 0 and tt.grad_clip >= 0, "eval.ttt.lr",
         "lr, weight_decay and grad_clip must be ≥ 0"),
        (0 <= tt.momentum < 1, "eval.ttt.momentum", "must be in [0, 1)"),
        (tt.train_seq_len >= 0 and tt.batch_seqs >= 1, "eval.ttt.batch_seqs",
         "batch_seqs must be ≥ 1 and train_seq_len ≥ 0"),
    ]
    if tt.lora is not None:
        lo = tt.lora
        checks += [
            (tt.chunk_tokens <= T, "eval.ttt.chunk_tokens", f"must be ≤ the eval sequence length {T} with lora"),
            (lo.rank >= 1 and lo.batch_docs >= 1, "eval.ttt.lora.rank", "rank and batch_docs must be ≥ 1"),
            (len(lo.targets) > 0 or lo.lm_head, "eval.ttt.lora.targets", "expected at least one layer name suffix"),
            (len(lo.short_doc_len) == len(lo.short_doc_chunk), "eval.ttt.lora.short_doc_chunk",
             "expected as many entries as eval.ttt.lora.short_doc_len"),
            (all(1 <= c <= T for c in lo.short_doc_chunk), "eval.ttt.lora.short_doc_chunk",
             f"every chunk must be in 1..{T}"),
            (tt.phased is not None or not lo.lm_head, "eval.ttt.lora.lm_head", "needs eval.ttt.phased"),
            (tt.phased is not None or not lo.short_doc_len, "eval.ttt.lora.short_doc_len", "needs eval.ttt.phased"),
        ]
    checks += [
        (tt.phased is None or tt.lora is not None, "eval.ttt.phased", "needs eval.ttt.lora"),
        (tt.tilt is None or tt.phased is not None, "eval.ttt.tilt", "needs eval.ttt.phased"),
        (0 <= tt.beta2 < 1 and tt.adam_eps > 0, "eval.ttt.beta2", "beta2 must be in [0, 1) and adam_eps > 0"),
    ]
    if tt.phased is not None:
        ph = tt.phased
        checks += [
            (ph.prefix_docs >= 0 and ph.num_phases >= 1, "eval.ttt.phased.num_phases",
             "num_phases must be ≥ 1 and prefix_docs ≥ 0"),
            (ph.chunk_tokens >= T and ph.batch_seqs >= 1 and ph.epochs >= 0, "eval.ttt.phased.chunk_tokens",
             f"chunk_tokens must be ≥ the eval sequence length {T}, batch_seqs ≥ 1, epochs ≥ 0"),
            (ph.lr >= 0 and ph.grad_clip >= 0 and 0 <= ph.momentum < 1, "eval.ttt.phased.lr",
             "lr and grad_clip must be ≥ 0, momentum in [0, 1)"),
        ]
    if tt.tilt is not None:
        checks += [(tt.tilt.order >= 1 and 0 < tt.tilt.threshold <= 1, "eval.ttt.tilt.order",
                    "order must be ≥ 1 and threshold in (0, 1]")]
    for ok, key, msg in checks:
        if not ok:
            raise PgolfError(f"{key}: {msg}")
    return e
