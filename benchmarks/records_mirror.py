"""Records folders of a local openai/parameter-golf git mirror, copied out at run time into a temp folder.

Used by benchmarks/stats_records.py and benchmarks/check_records.py. Only `git` plumbing is run; nothing from the
mirror is imported or executed, and nothing is written into this repository.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

DEFAULT_MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")


def git(mirror: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(mirror), *args], check=True, capture_output=True).stdout


def folders(mirror: Path, ref: str, track: str = "track_10min_16mb") -> list[str]:
    out = git(mirror, "ls-tree", "--name-only", f"{ref}:records/{track}").decode().split("\n")
    return [f"records/{track}/{name}" for name in out if name]


def extract(mirror: Path, ref: str, folder: str, dest: Path) -> Path:
    """`ref:folder` of the mirror → dest/<folder name>, via `git archive` (a tar stream, read here)."""
    blob = git(mirror, "archive", "--format=tar", ref, folder)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest / folder
