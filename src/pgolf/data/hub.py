"""Where published data comes from: a Hugging Face dataset repo (or a local copy of one), behind one small interface.

`Hub.list(folder)` → {path: RemoteFile(size, sha256 of LFS files, git blob id of small files)} and
`Hub.fetch(path, part, offset, on_bytes)` (append the file's bytes from `offset` to `part`). Three backends:
* `HfHub`  — huggingface_hub (installed with `pip install pgolf[hub]`): listing via HfApi.list_repo_tree, transfer
  via hf_hub_download into a staging directory (it resumes and authenticates by itself);
* `UrlHub` — plain HTTPS with urllib against the Hub's public endpoints (`/api/datasets/REPO/tree/REV/FOLDER` for
  listings, `/datasets/REPO/resolve/REV/PATH` for bytes), resuming partial files with HTTP Range requests;
* `DirHub` — a local directory laid out like the repo (a mirror on a shared drive; the fake hub of the tests).
`download()` wraps any of them: skip files already complete, resume `.part` files, verify size and checksum, rename
into place atomically. Source of the layout: openai/parameter-golf data/cached_challenge_fineweb.py.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pgolf.data.checksum import sha256_file
from pgolf.errors import PgolfError

CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int | None
    sha256: str | None = None  # LFS files
    git_oid: str | None = None  # small files: sha1 of b"blob <size>\0" + content


class DirHub:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.name = f"local directory {self.root}"
        if not self.root.is_dir():
            raise PgolfError(f"{self.root}: hub directory does not exist")

    def list(self, folder: str) -> dict[str, RemoteFile]:
        d = self.root / folder
        if not d.is_dir():
            return {}
        return {f"{folder}/{p.name}".lstrip("/"): RemoteFile(f"{folder}/{p.name}".lstrip("/"), p.stat().st_size,
                                                             _sha256(p))
                for p in sorted(d.iterdir()) if p.is_file()}

    def fetch(self, path: str, part: Path, offset: int, on_bytes) -> None:
        with open(self.root / path, "rb") as src, open(part, "r+b" if offset else "wb") as dst:
            src.seek(offset)
            dst.seek(offset)
            while block := src.read(CHUNK):
                dst.write(block)
                on_bytes(len(block))


class UrlHub:
    def __init__(self, repo: str, endpoint: str = "https://huggingface.co", revision: str = "main",
                 token: str | None = None, timeout: float = 60.0):
        self.repo, self.endpoint, self.revision = repo, endpoint.rstrip("/"), revision
        self.headers = {"User-Agent": "pgolf"} | ({"Authorization": f"Bearer {token}"} if token else {})
        self.timeout = timeout
        self.name = f"urllib HTTPS {self.endpoint}/datasets/{repo}@{revision}"

    def _open(self, url: str, headers: dict | None = None):
        req = urllib.request.Request(url, headers={**self.headers, **(headers or {})})
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise FileNotFoundError(url) from None
            raise PgolfError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            raise PgolfError(f"{url}: cannot connect ({getattr(e, 'reason', e)})") from None

    def list(self, folder: str) -> dict[str, RemoteFile]:
        q = urllib.parse.quote
        url = f"{self.endpoint}/api/datasets/{self.repo}/tree/{q(self.revision, safe='')}/{q(folder)}"
        out: dict[str, RemoteFile] = {}
        while url:
            try:
                with self._open(url) as r:
                    items, link = json.load(r), r.headers.get("Link", "")
            except FileNotFoundError:
                return out
            for it in items:
                if it.get("type") == "file":
                    lfs = it.get("lfs") or {}
                    out[it["path"]] = RemoteFile(it["path"], it.get("size"), lfs.get("oid"),
                                                 None if lfs else it.get("oid"))
            url = next((p.split(";")[0].strip(" <>") for p in link.split(",") if 'rel="next"' in p), None)
        return out

    def fetch(self, path: str, part: Path, offset: int, on_bytes) -> None:
        url = f"{self.endpoint}/datasets/{self.repo}/resolve/{urllib.parse.quote(self.revision, safe='')}/" \
              f"{urllib.parse.quote(path)}"
        with self._open(url, {"Range": f"bytes={offset}-"} if offset else None) as r:
            if offset and r.status != 206:  # the server ignored the range: start over
                offset = 0
            with open(part, "r+b" if offset else "wb") as dst:
                dst.seek(offset)
                dst.truncate()
                while block := r.read(CHUNK):
                    dst.write(block)
                    on_bytes(len(block))


class HfHub:
    def __init__(self, repo: str, revision: str = "main"):
        import huggingface_hub  # optional dependency (pgolf[hub]); make_hub falls back to plain HTTP

        self.hf, self.repo, self.revision = huggingface_hub, repo, revision
        self.name = f"huggingface_hub {huggingface_hub.__version__} datasets/{repo}@{revision}"

    def list(self, folder: str) -> dict[str, RemoteFile]:
        api = self.hf.HfApi()
        out = {}
        try:
            for it in api.list_repo_tree(self.repo, path_in_repo=folder, repo_type="dataset", revision=self.revision):
                if hasattr(it, "size"):
                    lfs = getattr(it, "lfs", None)
                    out[it.path] = RemoteFile(it.path, it.size, getattr(lfs, "sha256", None) if lfs else None,
                                              None if lfs else getattr(it, "blob_id", None))
        except Exception as e:  # huggingface_hub raises its own HTTP error classes
            if "404" in str(e) or type(e).__name__ in ("EntryNotFoundError", "RepositoryNotFoundError"):
                return out
            raise PgolfError(f"datasets/{self.repo}/{folder}: listing failed ({str(e).splitlines()[0]})") from None
        return out

    def fetch(self, path: str, part: Path, offset: int, on_bytes) -> None:
        staging = part.parent / ".hf-staging"
        sub, _, name = path.rpartition("/")
        got = Path(self.hf.hf_hub_download(self.repo, name, subfolder=sub or None, repo_type="dataset",
                                           revision=self.revision, local_dir=staging))
        shutil.move(str(got), str(part))
        shutil.rmtree(staging, ignore_errors=True)  # kept only when interrupted: hf_hub_download resumes from it
        on_bytes(part.stat().st_size - offset)


def make_hub(repo: str, endpoint: str | None = None, revision: str = "main", token: str | None = None):
    """A DirHub for a local path or file:// URL, HfHub when huggingface_hub is installed, else UrlHub."""
    if endpoint and (endpoint.startswith("file://") or "://" not in endpoint):
        return DirHub(Path(urllib.parse.urlparse(endpoint).path if "://" in endpoint else endpoint))
    if endpoint is None:
        try:
            return HfHub(repo, revision)
        except ImportError:
            pass
    return UrlHub(repo, endpoint or "https://huggingface.co", revision, token)


def _sha256(path: Path) -> str:
    return sha256_file(path)


def checksum_ok(path: Path, rf: RemoteFile) -> bool:
    if rf.sha256:
        return _sha256(path) == rf.sha256
    if rf.git_oid:
        h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
        with open(path, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
        return h.hexdigest() == rf.git_oid
    return True


def download(hub, rf: RemoteFile, dest: Path, bar, known: dict | None = None) -> str:
    """Fetch one file to `dest` (resume, verify, atomic rename) → "kept" | "downloaded" | "resumed"."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and dest.stat().st_size == rf.size:
        if (known or {}).get("sha256", "") == (rf.sha256 or rf.git_oid) and known.get("size") == rf.size:
            bar.advance_bytes(rf.size or 0)
            return "kept"
        if checksum_ok(dest, rf):
            bar.advance_bytes(rf.size or 0)
            return "kept"
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    if rf.size is not None and offset > rf.size:
        offset = 0
    bar.advance_bytes(offset)
    try:
        hub.fetch(rf.path, part, offset, bar.advance_bytes)
    except FileNotFoundError:
        raise PgolfError(f"{rf.path}: not found on {hub.name}") from None
    except (OSError, http.client.HTTPException) as e:
        raise PgolfError(f"{rf.path}: transfer interrupted ({type(e).__name__}); run again to resume") from None
    size = part.stat().st_size
    if rf.size is not None and size != rf.size:
        raise PgolfError(f"{rf.path}: got {size} of {rf.size} bytes; run again to resume")
    if not checksum_ok(part, rf):
        part.unlink()
        raise PgolfError(f"{rf.path}: checksum mismatch after download (corrupted transfer); run again")
    os.replace(part, dest)
    return "resumed" if offset else "downloaded"
