"""Which bytes a val_bpb divides by: the challenge's byte look-up tables, or a CaseOps byte sidecar (#1729).

bpb = (Σ NLL / ln 2) / Σ bytes, both sums over exactly the scored targets. Two accountings, one interface:
* `DeviceLUT` (pgolf.eval.bpb): bytes of target j from its token and the token before it (SPEC_SEEDS.md §4.3);
* `SidecarBytes`: bytes of target j = sidecar[j], the original UTF-8 bytes val token j stands for (read from
  `fineweb_val_bytes_*.bin`, pgolf.data.sidecar). Operators and BOS count 0, so the denominator is the untransformed
  text's bytes and a CaseOps score compares with a plain one.

How an evaluator gets per-token byte counts (the whole API):

    acct = val_accounting(data_dir, sp, vocab_size, val, device)   # val: the trimmed stream it scores
    acc = BpbAccumulator(acct, device)
    acc.add(nll, prev, tgt, pos)            # pos: stream index of each target (same shape as tgt)
    acc.add_masked(nll, prev, tgt, mask, pos)
    acc.result(rt)                          # EvalResult(..., scored_bytes, accounting="byte sidecar" | "byte LUT")
    # or directly: acct.target_bytes(prev, tgt, pos) → int64 bytes per target

The window scorers (standard, sliding, document-aware, full-model and LoRA TTT) pass `pos` for every target, and
multi-rank sums are all-reduced exactly as before. `val_accounting` picks the sidecar whenever the data directory
has one (a length/dtype check on load), and refuses a CaseOps tokenizer without one in one line: the look-up tables
would count each operator as 3 bytes and the lowercase pieces as if the text were lowercase.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgolf.data.caseops import is_caseops_tokenizer
from pgolf.data.sidecar import has_sidecar, load_sidecar
from pgolf.data.tokenizer import byte_luts
from pgolf.errors import PgolfError
from pgolf.eval.bpb import DeviceLUT


class SidecarBytes:
    """Per-position byte counts of the val stream, on a device (int32)."""

    accounting = "byte sidecar"

    def __init__(self, values: np.ndarray, device: torch.device):
        self.values = torch.from_numpy(np.asarray(values, dtype=np.int32)).to(device)

    def target_bytes(self, prev: Tensor, tgt: Tensor, pos: Tensor | None = None) -> Tensor:
        if pos is None:
            raise ValueError("byte sidecar accounting needs the stream position of every target (pos)")
        return self.values[pos].to(torch.int64)


def val_accounting(data_dir: Path, sp, vocab_size: int, val: np.ndarray, device: torch.device,
                   tokenizer: str | Path = "tokenizer") -> DeviceLUT | SidecarBytes:
    """The sidecar of `data_dir` cut to the scored stream `val` (a prefix of the val split), else the byte tables."""
    data_dir = Path(data_dir)
    if has_sidecar(data_dir):
        side = load_sidecar(data_dir)
        if side.size < val.size:
            raise PgolfError(f"{data_dir}: byte sidecar holds {side.size:,} values, the scored val stream "
                             f"{val.size:,} tokens")
        return SidecarBytes(side[: val.size], device)
    if is_caseops_tokenizer(sp):
        raise PgolfError(f"{data_dir}: no fineweb_val_bytes_*.bin sidecar, but {tokenizer} is a CaseOps tokenizer "
                         f"— its bpb needs the byte sidecar (the look-up tables would be wrong)")
    return DeviceLUT(byte_luts(sp, vocab_size), device)


def describe(acct: DeviceLUT | SidecarBytes) -> str:
    if isinstance(acct, SidecarBytes):
        return f"bytes: val byte sidecar ({int(acct.values.sum()):,} bytes in the scored stream, CaseOps #1729)"
    return "bytes: the tokenizer's byte look-up tables"
