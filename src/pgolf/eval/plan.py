"""Window plans: which windows the model runs on and which of their targets each one scores.

Notation. The val stream is tokens[0..N] (trimmed to N + 1 = 1 + k·T tokens); target j ∈ 1..N is tokens[j],
predicted from tokens[<j]. A `Window(start, length, first)` feeds inputs tokens[start : start+length] (RoPE
positions 0..length−1) and scores window positions first..length−1, i.e. targets start+first+1 .. start+length.
Every plan below scores every target 1..N exactly once (tested), so `scored_tokens` and `scored_bytes` are the
same for all of them; only the context each target sees differs.

* `stream_plan(N, T, s)`: windows of length T over the whole stream. Window 0 scores all T targets; window
  j ≥ 1 starts at j·s and scores its last s targets; when (N − T) is not a multiple of s one last window ends at
  N and scores the remaining tail. s = T is the standard (non-overlapping) evaluation. The seeds (#198/#443/#1473)
  keep starting windows up to N − s and re-score the last s tokens ~31 times (SPEC_SEEDS.md §6.4); this does not.
* `doc_plan(tokens, T, s, bos)`: the same rule applied inside each document, so no window crosses a BOS. The BOS id
  is always an argument: the model's `cfg.bos_id` (`model_bos`), never a default restated here.
  Documents start at position 0 and at every p ∈ 1..N−1 with tokens[p] = BOS; document [d, e) owns the targets
  d+1 .. e — including the next document's BOS at e, which is predicted from its own document (it counts in the
  NLL and 0 bytes, as in every evaluation). Relative to d, a target r ∈ 1..n (n = e − d) is scored by the window
  that starts at d + m·s with m = 0 when r ≤ T, else m = ⌈(r − T)/s⌉; that window ends at d + min(T + m·s, n).
  A document's last window is cut at its end rather than slid back, so the context of every target depends only
  on its own position and its document's start — never on where the *next* BOS falls (a slid-back tail would
  make earlier scores depend on a later token, breaking the causality that score-first TTT relies on).
* `lora_chunk_plan(n, T, C)`: one window per chunk of C targets of a document (for per-document TTT): chunk c
  scores relative targets c·C+1 .. min((c+1)·C, n) with the window starting at max(0, (c+1)·C − T). When C
  divides T it gives every target the same context as `doc_plan(…, s=C)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Window(NamedTuple):
    start: int  # stream position of the first input token
    length: int  # number of inputs (≤ T)
    first: int  # first scored window position

    @property
    def lo(self) -> int:
        """First scored target (stream index)."""
        return self.start + self.first + 1

    @property
    def hi(self) -> int:
        """Last scored target (stream index, inclusive)."""
        return self.start + self.length


def windows(n_targets: int, seq_len: int, stride: int) -> list[tuple[int, int]]:
    """(start, first scored position) of every full-length window of `stream_plan` (kept for callers and tests)."""
    return [(w.start, w.first) for w in stream_plan(n_targets, seq_len, stride)]


def stream_plan(n_targets: int, seq_len: int, stride: int, offset: int = 0) -> list[Window]:
    """Windows of length T over targets offset+1 .. offset+n_targets (n_targets ≥ T)."""
    T, s, N = seq_len, min(stride, seq_len), n_targets
    if not 0 < s <= T <= N:
        raise ValueError(f"stream_plan needs 0 < stride ≤ T ≤ N, got stride {stride}, T {T}, N {N}")
    out = [Window(offset, T, 0)]
    j = 1
    while j * s + T <= N:
        out.append(Window(offset + j * s, T, T - s))
        j += 1
    covered = T + (j - 1) * s
    if covered < N:
        out.append(Window(offset + N - T, T, T - (N - covered)))
    return out


def model_bos(model) -> int:
    """The document separator of document-aware plans: the model's `cfg.bos_id` (model.bos_id, the token its
    BOS-aware features reset at) — read from the model's own config, never restated."""
    return int(model.cfg.bos_id)


def doc_starts(tokens: np.ndarray, bos_id: int) -> np.ndarray:
    """Start positions of the documents of a stream of N + 1 tokens: 0 and every BOS at 1..N−1."""
    t = np.asarray(tokens)
    inner = np.flatnonzero(t[1:-1] == bos_id) + 1
    return np.concatenate(([0], inner)).astype(np.int64)


def doc_spans(tokens: np.ndarray, bos_id: int) -> list[tuple[int, int]]:
    """(start d, n targets) of every document; together they own targets 1..N once."""
    starts = doc_starts(tokens, bos_id)
    ends = np.append(starts[1:], np.asarray(tokens).size - 1)
    return [(int(d), int(e - d)) for d, e in zip(starts, ends)]


def in_doc_windows(d: int, n: int, seq_len: int, stride: int) -> list[Window]:
    """The causal sliding windows of one document starting at d with n targets (see the module docstring)."""
    T, s = seq_len, min(stride, seq_len)
    out = [Window(d, min(T, n), 0)]
    m = 1
    while T + (m - 1) * s < n:
        end = min(T + m * s, n)
        out.append(Window(d + m * s, end - m * s, T - s))
        m += 1
    return out


def doc_plan(tokens: np.ndarray, seq_len: int, stride: int, bos_id: int) -> list[Window]:
    """Windows that never cross a document boundary, in stream order."""
    out: list[Window] = []
    for d, n in doc_spans(tokens, bos_id):
        out.extend(in_doc_windows(d, n, seq_len, stride))
    return out


def lora_chunk_plan(d: int, n: int, seq_len: int, chunk: int) -> list[Window]:
    """Per-document TTT chunks: one window per chunk of `chunk` targets (see the module docstring)."""
    T, C = seq_len, chunk
    if not 0 < C <= T:
        raise ValueError(f"chunk must be in 1..T={T}, got {C}")
    out = []
    for c in range(-(-n // C)):
        start = max(0, (c + 1) * C - T)
        end = min((c + 1) * C, n)
        out.append(Window(d + start, end - start, c * C - start))
    return out


def sliding_plan(tokens: np.ndarray, seq_len: int, stride: int, doc_aware: bool,
                 bos_id: int | None = None) -> list[Window]:
    """The plan of an evaluation: stride 0 means T (non-overlapping); doc_aware keeps windows inside documents,
    split at bos_id (required then: the model's cfg.bos_id)."""
    s = seq_len if stride <= 0 else min(stride, seq_len)
    if doc_aware:
        if bos_id is None:
            raise ValueError("sliding_plan: a document-aware plan needs bos_id (the model's cfg.bos_id)")
        return doc_plan(tokens, seq_len, s, bos_id)
    return stream_plan(np.asarray(tokens).size - 1, seq_len, s)


def split_for_rank(items: list, rank: int, world_size: int) -> list:
    """A contiguous block of a list for one rank (blocks differ in size by at most one)."""
    n = len(items)
    return items[n * rank // world_size : n * (rank + 1) // world_size]
