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
    lora: LoRATTTConfig | None = None


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
            (len(lo.targets) > 0, "eval.ttt.lora.targets", "expected at least one layer name suffix"),
        ]
    for ok, key, msg in checks:
        if not ok:
            raise PgolfError(f"{key}: {msg}")
    return e
