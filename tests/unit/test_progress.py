"""Progress bars: drawn on rank 0 at a terminal only; the data commands' byte-progress interface on tqdm."""

from __future__ import annotations

import io

import pytest

import pgolf.runtime.progress as P
from pgolf.data.progress import ByteProgress


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_at_a_terminal():
    assert P.bars_enabled(FakeTTY()) and not P.bars_enabled(io.StringIO())
    quiet = io.StringIO()
    assert list(P.bar(range(3), "eval", stream=quiet)) == [0, 1, 2]  # the iterable passes through untouched
    assert quiet.getvalue() == ""


def test_bars_quiet_on_other_ranks(monkeypatch):
    monkeypatch.setattr(P.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(P.dist, "get_rank", lambda: 1)
    assert not P.bars_enabled(FakeTTY())
    monkeypatch.setattr(P.dist, "get_rank", lambda: 0)
    assert P.bars_enabled(FakeTTY())


@pytest.mark.parametrize("tty", [True, False])
def test_byte_progress(tty):
    s = FakeTTY() if tty else io.StringIO()
    b = ByteProgress("fineweb", 0, stream=s, mininterval=0)  # draw every update (no rate limit in a test)
    b.total = 2_000_000
    b.advance_bytes(1_000_000)
    b.set(files=3, tokens=12345)
    b.done()
    assert b.total == 2_000_000 and b.enabled == tty
    out = s.getvalue()
    if tty:
        assert "fineweb" in out and "50%" in out and "1.00M/2.00M" in out and "tokens=12,345" in out
    else:
        assert out == ""
    off = FakeTTY()
    ByteProgress("x", 10, stream=off, enabled=False).advance_bytes(5)  # --no-progress: nothing, even at a tty
    assert off.getvalue() == ""
