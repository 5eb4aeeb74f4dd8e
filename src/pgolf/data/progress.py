"""Byte progress for downloads and corpus builds, on a tqdm bar (pgolf.runtime.progress: rank 0, terminal only).

The interface the data commands use: advance_bytes(n), set(**counters) (docs, tokens, files in the postfix), a
settable total (known after the listing), done().
"""

from __future__ import annotations

from pgolf.runtime.progress import bar


class ByteProgress:
    """Bytes through a download or a corpus build, with named counters in the postfix."""

    def __init__(self, label: str, total_bytes: int = 0, stream=None, enabled: bool = True, **kw):
        self._bar = bar(desc=label, total=total_bytes or None, unit="B", enabled=enabled, stream=stream,
                        unit_scale=True, unit_divisor=1000, **kw)
        self.enabled = not self._bar.disable

    @property
    def total(self) -> int:
        return int(self._bar.total or 0)

    @total.setter
    def total(self, n: int) -> None:
        self._bar.total = n or None
        self._bar.refresh()

    def advance_bytes(self, n: int) -> None:
        self._bar.update(n)

    def set(self, **counters: float) -> None:
        self._bar.set_postfix({k: f"{v:,.0f}" for k, v in counters.items()})

    def done(self) -> None:
        self._bar.close()
