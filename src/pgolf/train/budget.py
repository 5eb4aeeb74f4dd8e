"""The training clock: wallclock time that counts against the cap, paused around validation (as the seeds do).

On CUDA the clock synchronises the device before reading the host timer so queued work is counted.
"""

from __future__ import annotations

import time

import torch


class TrainClock:
    def __init__(self, device: torch.device):
        self.device = device
        self.banked = 0.0
        self._t0: float | None = None

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self) -> None:
        self._sync()
        self._t0 = time.perf_counter()

    def pause(self) -> None:
        if self._t0 is not None:
            self._sync()
            self.banked += time.perf_counter() - self._t0
            self._t0 = None

    def elapsed(self) -> float:
        """Seconds counted so far (no device sync: cheap, used every step)."""
        return self.banked + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)
