"""Progress bars (tqdm) for downloads, data builds, evaluation, GPTQ calibration and generation, and export.

A bar draws only on rank 0 (torch.distributed's rank when a group is up) and only when its stream (stderr) is a
terminal: logs, CI and the other ranks see nothing, so bars never interleave with the run log. The run log keeps
its own lines; a bar is a view, never the record. (The data commands' byte bars: pgolf.data.progress.)
"""

from __future__ import annotations

import sys

import torch.distributed as dist
from tqdm import tqdm


def bars_enabled(stream=None) -> bool:
    """Rank 0 (or no process group) and a terminal."""
    stream = stream if stream is not None else sys.stderr
    if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def bar(iterable=None, desc: str = "", total: int | None = None, unit: str = "it", enabled: bool = True,
        stream=None, **kw) -> tqdm:
    """A tqdm bar on stderr, disabled unless `enabled` and `bars_enabled()`; leaves no line behind when done."""
    stream = stream if stream is not None else sys.stderr
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=stream, leave=False, dynamic_ncols=True,
                disable=not (enabled and bars_enabled(stream)), **kw)
