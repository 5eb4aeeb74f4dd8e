"""Durable, atomic file writes: a reader sees the old file or the new one, never a part, even after SIGKILL or a
power cut; a failed write (disk full, no permission, a path under a file) is one line and loses nothing.

The bytes go to a temporary file beside the target, are flushed and fsync'ed, renamed over the target
(`os.replace`, atomic on POSIX), and the directory is fsync'ed so the rename itself survives a crash. On any error
the temporary file is removed and the previous file is untouched; the error is a PgolfError naming the path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pgolf.errors import PgolfError


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # platforms without directory fds (Windows): the rename is as durable as they allow
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ensure_dir(d: Path, what: str = "directory") -> Path:
    """mkdir -p with a one-line error when a path component is a file or cannot be created."""
    d = Path(d)
    if d.exists() and not d.is_dir():
        raise PgolfError(f"{d}: is a file; expected a {what} (give another path)")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PgolfError(f"{d}: a parent of this {what} is a file, not a directory") from None
    except OSError as e:
        raise PgolfError(f"{d}: cannot create the {what} ({e.strerror})") from None
    return d


def write_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    if path.is_dir():
        raise PgolfError(f"{path}: is a directory; expected a file path")
    ensure_dir(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as e:
        raise PgolfError(f"{path}: cannot write ({e.strerror or e}); the previous file, if any, is unchanged") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
