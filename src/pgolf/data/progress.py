"""A dependency-free progress bar for downloads and corpus builds (stderr).

On a terminal it redraws one line (`\\r`) at most 5 times a second; otherwise (logs, CI) it prints a plain line at
most every 30 s, so log files stay short. `done()` always prints the final line.
"""

from __future__ import annotations

import sys
import time


def _si(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.1f}{unit}"
    return f"{x:.0f}"


class Progress:
    def __init__(self, label: str, total_bytes: int = 0, stream=None, enabled: bool = True):
        self.label, self.total = label, int(total_bytes)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bytes = 0
        self.counters: dict[str, float] = {}
        self.t0 = self._last = time.perf_counter()

    def advance_bytes(self, n: int) -> None:
        self.bytes += n
        self._maybe_draw()

    def set(self, **counters: float) -> None:
        self.counters.update(counters)
        self._maybe_draw()

    def line(self) -> str:
        dt = max(time.perf_counter() - self.t0, 1e-9)
        parts = [self.label]
        if self.total:
            frac = min(1.0, self.bytes / self.total)
            bar = "#" * int(20 * frac)
            parts.append(f"[{bar:<20}] {100 * frac:5.1f}% of {_si(self.total)}B")
        elif self.bytes:
            parts.append(f"{_si(self.bytes)}B")
        for k, v in self.counters.items():
            parts.append(f"{_si(v)} {k}")
        if "tokens" in self.counters:
            parts.append(f"{_si(self.counters['tokens'] / dt)} tok/s")
        elif self.bytes:
            parts.append(f"{_si(self.bytes / dt)}B/s")
        parts.append(f"{dt:.0f} s")
        return " | ".join(parts)

    def _maybe_draw(self) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < (0.2 if self.tty else 30.0):
            return
        self._last = now
        self._draw(final=False)

    def _draw(self, final: bool) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self._draw(final=True)
