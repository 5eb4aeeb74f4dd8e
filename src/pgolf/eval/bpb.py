"""The challenge's bits-per-byte (SPEC_SEEDS.md §4.3), accumulated in float64 and reduced across ranks.

bytes_t = base_bytes[y_t] + [has_space[y_t] ∧ ¬is_boundary[x_t]] where x_t is the input token at the target's
position (the token before it). val_loss = ΣNLL/N (nats), val_bpb = ΣNLL / (ln 2 · Σbytes). The accumulator takes
any accounting with `target_bytes(prev, tgt, pos)` and an `accounting` name — these tables, or the CaseOps byte
sidecar (pgolf.eval.accounting, which documents the evaluator-side API); `pos` is each target's stream index.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from pgolf.data.tokenizer import ByteLUT
from pgolf.runtime.dist import Runtime, all_reduce_


@dataclass(frozen=True)
class EvalResult:
    val_loss: float
    val_bpb: float
    scored_tokens: int
    scored_bytes: int
    # the scorer's BatchStats.to_dict() of this rank's pass (batches, padded fraction, tokens/s); not a score, so
    # two results of different passes compare equal when their scores do
    speed: dict | None = field(default=None, compare=False)
    accounting: str = "byte LUT"

    def to_dict(self) -> dict:
        """The score fields (not `speed`: rank-local, not a score)."""
        d = asdict(self)
        d.pop("speed")
        return d


class DeviceLUT:
    """ByteLUT tables moved to a device once."""

    accounting = "byte LUT"

    def __init__(self, lut: ByteLUT, device: torch.device):
        self.base = torch.as_tensor(lut.base_bytes, dtype=torch.int64, device=device)
        self.space = torch.as_tensor(lut.has_space, dtype=torch.bool, device=device)
        self.boundary = torch.as_tensor(lut.is_boundary, dtype=torch.bool, device=device)

    def target_bytes(self, prev: Tensor, tgt: Tensor, pos: Tensor | None = None) -> Tensor:
        return self.base[tgt] + (self.space[tgt] & ~self.boundary[prev]).to(torch.int64)


class BpbAccumulator:
    def __init__(self, lut, device: torch.device):  # lut: DeviceLUT or pgolf.eval.accounting.SidecarBytes
        self.lut = lut
        self.nll = torch.zeros((), dtype=torch.float64, device=device)
        self.tokens = torch.zeros((), dtype=torch.float64, device=device)
        self.bytes = torch.zeros((), dtype=torch.float64, device=device)

    def add(self, nll: Tensor, prev: Tensor, tgt: Tensor, pos: Tensor | None = None) -> None:
        """nll, prev, tgt (, pos): same shape; every element is one scored target."""
        self.nll += nll.to(torch.float64).sum()
        self.tokens += nll.numel()
        self.bytes += self.lut.target_bytes(prev, tgt, pos).sum().to(torch.float64)

    def add_masked(self, nll: Tensor, prev: Tensor, tgt: Tensor, mask: Tensor, pos: Tensor | None = None) -> None:
        """Same as add(nll[mask], …) without a device sync: masked sums in float64."""
        zero = torch.zeros((), dtype=torch.float64, device=nll.device)
        self.nll += torch.where(mask, nll.to(torch.float64), zero).sum()
        self.tokens += mask.sum().to(torch.float64)
        self.bytes += torch.where(mask, self.lut.target_bytes(prev, tgt, pos).to(torch.float64), zero).sum()

    def result(self, rt: Runtime | None = None) -> EvalResult:
        if rt is not None:
            for t in (self.nll, self.tokens, self.bytes):
                all_reduce_(t, rt)
        n, b, s = float(self.tokens.item()), float(self.bytes.item()), float(self.nll.item())
        loss = s / max(n, 1.0)
        bpb = s / (math.log(2.0) * b) if b > 0 else float("nan")
        return EvalResult(val_loss=loss, val_bpb=bpb, scored_tokens=int(n), scored_bytes=int(b),
                          accounting=self.lut.accounting)
