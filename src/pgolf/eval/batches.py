"""Batch planning for evaluation: which windows run together, at which (rows, L) shape, and how much is padding.

The scorer runs windows in (rows, L) batches. A fixed shape per bucket length L is what lets a compiled scoring
function run without recompiling, but padding every partial batch up to the full row count wastes whole batches:
a tail of 3 windows at 512 rows computes 509 rows of zeros. The planner here keeps the waste small and measured:

* compiled (fixed shapes): full batches of `rows`, then the tail of each bucket as a descending sum of the row
  buckets rows/2, rows/4, …, down to `min_rows` = ⌈rows/8⌉ (powers-of-two fractions of rows), and one last batch of
  `min_rows` padded with empty rows. At most ~4 row shapes per bucket length (all warmed up on random tokens), and at
  most min_rows − 1 empty rows per bucket.
* eager (no compile: any shape is free): full batches, then the exact remainder; the length of an eager batch is
  the longest window in it (≤ its bucket length), so eager plans pad only to the longest window of a batch.

`BatchStats` counts the computed positions (rows × L of every batch), the real input positions (Σ window lengths)
and the scored targets; padded fraction = 1 − real / computed (the overlap of sliding windows is not padding: it
is the context the plan asked for). Invariant: the planner only groups windows; every window lands in exactly one
batch row, so scores do not depend on the plan (tested against the one-window-per-batch plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_ROWS_DIVISOR = 8


def row_buckets(rows: int) -> list[int]:
    """The batch row counts a compiled plan may use for a full batch of `rows`: rows, ⌈rows/2⌉, … ≥ ⌈rows/8⌉."""
    out = [rows]
    d = 2
    while d <= MIN_ROWS_DIVISOR and -(-rows // d) < out[-1]:
        out.append(-(-rows // d))
        d *= 2
    return out


def split_rows(n: int, rows: int, fixed: bool) -> list[tuple[int, int]]:
    """n windows of one bucket → [(count, batch rows)] in order: full batches, then the tail (module docstring)."""
    out = [(rows, rows)] * (n // rows)
    r = n % rows
    if not r:
        return out
    if not fixed:
        return out + [(r, r)]
    sizes = row_buckets(rows)[1:] or [rows]
    for b in sizes:
        while r >= b:
            out.append((b, b))
            r -= b
    if r:
        out.append((r, sizes[-1]))
    return out


@dataclass
class BatchStats:
    """What a scoring pass computed: batches, shapes, computed vs real positions, scored targets and seconds."""

    batches: int = 0
    computed: int = 0  # Σ rows × L over batches
    real: int = 0  # Σ window lengths (input positions that exist)
    scored: int = 0  # Σ scored targets
    seconds: float = 0.0
    shapes: set = field(default_factory=set)

    def add(self, rows: int, L: int, real: int, scored: int) -> None:
        self.batches += 1
        self.computed += rows * L
        self.real += real
        self.scored += scored
        self.shapes.add((rows, L))

    def merge(self, other: BatchStats) -> BatchStats:
        return BatchStats(self.batches + other.batches, self.computed + other.computed, self.real + other.real,
                          self.scored + other.scored, self.seconds + other.seconds, self.shapes | other.shapes)

    @property
    def padded_fraction(self) -> float:
        return 1.0 - self.real / self.computed if self.computed else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"batches": self.batches, "shapes": len(self.shapes), "computed_positions": self.computed,
                "real_positions": self.real, "scored_targets": self.scored, "padded_fraction": self.padded_fraction,
                "seconds": self.seconds, "tokens_per_s": self.tokens_per_s}

    def line(self) -> str:
        return speed_line(self.to_dict())


def speed_line(d: dict) -> str:
    """One log line from BatchStats.to_dict() (this rank's pass)."""
    return (f"eval speed: {d['scored_targets']:,} targets in {d['seconds']:.2f} s = {d['tokens_per_s']:,.0f} tokens/s"
            f" | {d['batches']} batches, {d['shapes']} shapes | padded {100 * d['padded_fraction']:.2f}% of "
            f"{d['computed_positions']:,} computed positions" + (f" | {d['path']}" if d.get("path") else ""))
