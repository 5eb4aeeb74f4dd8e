"""The one loop of test-time training: score a chunk, commit its scores, and only then adapt on it.

Legality (SPEC_FRONTIER.md §5.1, from openai/parameter-golf issue #1017): C1 a prediction depends only on the
artifact and the strict prefix; C2 full normalised softmax; C3 a token's loss is committed before any update that
uses it; C4 one left-to-right pass, no rescoring. `score_first` makes C3/C4 structural:

* it is a generator: chunk k is scored (under inference mode, with the weights as they are) and yielded; the
  adapter for chunk k runs only when the consumer asks for chunk k+1, so the scoring of chunk k+1 starts after
  that update and never before; nothing is ever scored twice;
* the adapter never sees the token stream. It gets a `Released` view of chunk k whose accessors hand out copies of
  tokens only after the `Ledger` confirms that every target they contain was already scored (else LegalityError);
* the last chunk is scored but never trained on (there is nothing left to score with it).

Context tokens (inputs before a window's scored positions) are strict-prefix tokens, allowed by C1.
On several ranks each rank scores its share of chunk k before it enters the adapter, whose gradient all-reduce
waits for every rank, so no rank updates on chunk k before all of chunk k was scored; the ledger of each rank
records the whole chunk as committed at that point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from pgolf.eval.plan import Window
from pgolf.eval.scorer import window_batch


class LegalityError(RuntimeError):
    """An update asked for tokens whose targets had not been scored yet (a bug, never a user error)."""


class Ledger:
    """Which targets of the stream have been scored."""

    def __init__(self, n_targets: int):
        self.done = np.zeros(n_targets + 1, dtype=np.bool_)

    def commit(self, wins: Sequence[Window]) -> None:
        for w in wins:
            if w.length:
                self.done[w.lo : w.hi + 1] = True

    def require(self, lo: int, hi: int) -> None:
        if lo > hi:
            return
        if lo < 1 or hi >= self.done.size or not self.done[lo : hi + 1].all():
            missing = lo + int(np.argmin(self.done[lo : hi + 1])) if hi < self.done.size else self.done.size
            raise LegalityError(f"training on targets {lo}..{hi} but target {missing} has not been scored")


@dataclass
class ScoredChunk:
    index: int
    windows: list[Window]  # every window of the chunk (all ranks)
    nll: list[Tensor] = field(default_factory=list)  # this rank's per-window NLL when the scorer keeps them


class Released:
    """What an adapter may read about chunk k: its windows, and tokens whose targets are all scored."""

    def __init__(self, chunk: ScoredChunk, stream: Tensor, ledger: Ledger):
        self.index = chunk.index
        self.windows = list(chunk.windows)  # in slot order; empty windows (length 0) mark idle rows
        self._stream = stream
        self._ledger = ledger

    def span(self) -> tuple[int, int]:
        """(lo, hi): the chunk's scored targets, which must be one contiguous range."""
        wins = [w for w in self.windows if w.length]
        lo, hi = min(w.lo for w in wins), max(w.hi for w in wins)
        if sum(w.hi - w.lo + 1 for w in wins) != hi - lo + 1:
            raise LegalityError(f"chunk {self.index} is not a contiguous range of targets")
        return lo, hi

    def tokens(self, lo: int, hi: int) -> Tensor:
        """A copy of tokens[lo−1 .. hi]: inputs lo−1..hi−1 and targets lo..hi (all scored)."""
        self._ledger.require(lo, hi)
        return self._stream[lo - 1 : hi + 1].clone()

    def batch(self, wins: Sequence[Window], rows: int, L: int) -> tuple[Tensor, Tensor, Tensor]:
        """window_batch of windows whose every target (context and scored) is already scored."""
        for w in wins:
            if w.length:
                self._ledger.require(w.start + 1, w.hi)
        return window_batch(self._stream, list(wins), rows, L)


def score_first(stream: Tensor, chunks: Sequence[Sequence[Window]], ledger: Ledger,
                score: Callable[[Tensor, list[Window]], list[Tensor]],
                adapt: Callable[[Released], None]) -> Iterator[ScoredChunk]:
    """Yield every chunk once, scored with the weights as adapted on the chunks before it."""
    for k, wins in enumerate(chunks):
        wins = list(wins)
        with torch.inference_mode():
            nll = score(stream, wins)
        ledger.commit(wins)
        chunk = ScoredChunk(k, wins, nll)
        yield chunk
        if k + 1 < len(chunks):
            adapt(Released(chunk, stream, ledger))
