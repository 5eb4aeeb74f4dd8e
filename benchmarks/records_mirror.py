"""Records folders of a local openai/parameter-golf git mirror, copied out at run time into a temp folder.

Used by benchmarks/stats_records.py and benchmarks/check_records.py (folders), and by every benchmark that runs a
record's own script (`show` / `show_to`: one file at a ref). Only `git` plumbing is run here; nothing is written into
this repository (callers copy into an ignored folder).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

DEFAULT_MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")


def git(mirror: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(mirror), *args], check=True, capture_output=True).stdout


def show(mirror: Path, spec: str) -> bytes:
    """The bytes of `spec` = "ref:path" in the mirror."""
    return git(mirror, "show", spec)


def show_to(mirror: Path, spec: str, dest: Path) -> Path:
    """"ref:path" copied to the file `dest` (its folder made); → dest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(show(mirror, spec))
    return dest


def folders(mirror: Path, ref: str, track: str = "track_10min_16mb") -> list[str]:
    out = git(mirror, "ls-tree", "--name-only", f"{ref}:records/{track}").decode().split("\n")
    return [f"records/{track}/{name}" for name in out if name]


def extract(mirror: Path, ref: str, folder: str, dest: Path) -> Path:
    """`ref:folder` of the mirror → dest/<folder name>, via `git archive` (a tar stream, read here)."""
    blob = git(mirror, "archive", "--format=tar", ref, folder)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest / folder
