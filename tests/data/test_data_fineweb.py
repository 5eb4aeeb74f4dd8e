"""`pgolf data fineweb` against local fakes of the Hugging Face hub (a directory, an HTTP server, a fake
huggingface_hub module): layout, resume, checksums, stale manifests, expected val counts. No network."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import threading
import types
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from pgolf.cli import main
from pgolf.data.fineweb import check_published_val, fetch_fineweb
from pgolf.data.hub import DirHub, HfHub, UrlHub
from pgolf.data.shards import write_shard
from pgolf.errors import PgolfError

REPO = "someone/fake-golf"
QUIET = dict(log=lambda *a: None, progress=False)


@pytest.fixture
def hub_dir(tmp_path, tokenizer_path):
    """A repo laid out like willdepueoai/parameter-golf: datasets/{manifest.json, datasets/NAME/*.bin, tokenizers/}."""
    root = tmp_path / "hub"
    ds = root / "datasets" / "datasets" / "fineweb10B_sp512"
    rng = np.random.default_rng(0)
    val = [rng.integers(0, 512, n).astype(np.uint16) for n in (3000, 1234)]
    train = [rng.integers(0, 512, 5000).astype(np.uint16) for _ in range(3)]
    for i, t in enumerate(val):
        write_shard(ds / f"fineweb_val_{i:06d}.bin", t)
    for i, t in enumerate(train):
        write_shard(ds / f"fineweb_train_{i:06d}.bin", t)
    tok = root / "datasets" / "tokenizers"
    tok.mkdir(parents=True)
    shutil.copy(tokenizer_path, tok / "fineweb_512_bpe.model")
    shutil.copy(Path(str(tokenizer_path)[:-6] + ".vocab"), tok / "fineweb_512_bpe.vocab")
    manifest = {"datasets": [
        {"name": "fineweb10B_sp512", "tokenizer_name": "sp_bpe_512", "vocab_size": 512,
         "stats": {"files_val": 2, "files_train": 3, "tokens_val": 4234, "tokens_train": 15000}},
        {"name": "fineweb10B_sp64", "tokenizer_name": "x", "stats": {}}],
        "tokenizers": [{"name": "sp_bpe_512", "model_path": "tokenizers/fineweb_512_bpe.model",
                        "vocab_path": "tokenizers/fineweb_512_bpe.vocab"}]}
    (root / "datasets" / "manifest.json").write_text(json.dumps(manifest))
    return root


class Spy:
    """Counts fetches (and their offsets) of a wrapped hub; optionally corrupts one file's bytes."""

    def __init__(self, hub, corrupt: str | None = None):
        self.hub, self.name, self.corrupt, self.fetches = hub, hub.name, corrupt, []

    def list(self, folder):
        return self.hub.list(folder)

    def fetch(self, path, part, offset, on_bytes):
        self.fetches.append((path, offset))
        self.hub.fetch(path, part, offset, on_bytes)
        if self.corrupt and path.endswith(self.corrupt):
            with open(part, "r+b") as f:
                f.seek(2000)
                b = f.read(1)
                f.seek(2000)
                f.write(bytes([b[0] ^ 1]))


def test_download_layout_and_counts(tmp_path, hub_dir, capsys):
    out = tmp_path / "data"
    r = fetch_fineweb("sp512", out, train_shards=2, repo=REPO, hub=DirHub(hub_dir), **QUIET)
    d = out / "datasets" / "fineweb10B_sp512"
    assert sorted(p.name for p in d.iterdir()) == ["fineweb_train_000000.bin", "fineweb_train_000001.bin",
                                                   "fineweb_val_000000.bin", "fineweb_val_000001.bin"]
    for p in d.iterdir():
        assert p.read_bytes() == (hub_dir / "datasets" / "datasets" / "fineweb10B_sp512" / p.name).read_bytes()
    assert (out / "tokenizers" / "fineweb_512_bpe.model").is_file() and (out / "manifest.json").is_file()
    assert r["val_tokens"] == 4234 and r["train_tokens"] == 10000 and r["files"] == {"downloaded": 6}
    # the directory verifies against the challenge manifest, tokenizer included
    assert main(["data", "verify", str(d), "--vocab", "512"]) == 0
    assert "fineweb10B_sp512" in capsys.readouterr().out


def test_rerun_keeps_files_and_resumes_partial_ones(tmp_path, hub_dir):
    out = tmp_path / "data"
    fetch_fineweb("sp512", out, train_shards=1, repo=REPO, hub=DirHub(hub_dir), **QUIET)
    spy = Spy(DirHub(hub_dir))
    r = fetch_fineweb("sp512", out, train_shards=3, repo=REPO, hub=spy, **QUIET)
    assert sorted(p for p, _ in spy.fetches) == ["datasets/datasets/fineweb10B_sp512/fineweb_train_000001.bin",
                                                 "datasets/datasets/fineweb10B_sp512/fineweb_train_000002.bin"]
    assert r["files"] == {"kept": 5, "downloaded": 2}
    # an interrupted transfer left a .part: the next run continues from its end
    d = out / "datasets" / "fineweb10B_sp512"
    full = (d / "fineweb_train_000002.bin").read_bytes()
    (d / "fineweb_train_000002.bin").unlink()
    (d / "fineweb_train_000002.bin.part").write_bytes(full[:4000])
    spy = Spy(DirHub(hub_dir))
    r = fetch_fineweb("sp512", out, train_shards=3, repo=REPO, hub=spy, **QUIET)
    assert spy.fetches == [("datasets/datasets/fineweb10B_sp512/fineweb_train_000002.bin", 4000)]
    assert r["files"] == {"kept": 6, "resumed": 1} and (d / "fineweb_train_000002.bin").read_bytes() == full


def test_corrupted_transfer_is_refused_then_repaired(tmp_path, hub_dir):
    out = tmp_path / "data"
    with pytest.raises(PgolfError, match="fineweb_val_000001.bin: checksum mismatch"):
        fetch_fineweb("sp512", out, train_shards=1, repo=REPO, hub=Spy(DirHub(hub_dir), "val_000001.bin"), **QUIET)
    d = out / "datasets" / "fineweb10B_sp512"
    assert not (d / "fineweb_val_000001.bin").exists() and not (d / "fineweb_val_000001.bin.part").exists()
    r = fetch_fineweb("sp512", out, train_shards=1, repo=REPO, hub=DirHub(hub_dir), **QUIET)
    assert r["files"] == {"kept": 1, "downloaded": 4}


def test_stale_manifest_is_replaced_and_files_reverified(tmp_path, hub_dir):
    out = tmp_path / "data"
    fetch_fineweb("sp512", out, train_shards=1, repo=REPO, hub=DirHub(hub_dir), **QUIET)
    # another repo's manifest and a damaged local shard of the same size
    (out / "manifest.json").write_text(json.dumps({"datasets": []}))
    rec = json.loads((out / ".pgolf-download.json").read_text())
    rec["repo"] = "willdepueoai/parameter-golf"
    (out / ".pgolf-download.json").write_text(json.dumps(rec))
    shard = out / "datasets" / "fineweb10B_sp512" / "fineweb_train_000000.bin"
    good = shard.read_bytes()
    shard.write_bytes(good[:-2] + b"\x00\x00")
    logs = []
    spy = Spy(DirHub(hub_dir))
    fetch_fineweb("sp512", out, train_shards=1, repo=REPO, hub=spy, log=logs.append, progress=False)
    assert any("is stale" in line for line in logs)
    assert json.loads((out / "manifest.json").read_text())["datasets"][0]["name"] == "fineweb10B_sp512"
    assert [p for p, _ in spy.fetches][-1].endswith("fineweb_train_000000.bin") and shard.read_bytes() == good


def test_manifest_driven_refusals(tmp_path, hub_dir):
    hub = DirHub(hub_dir)
    with pytest.raises(PgolfError, match=r"no dataset fineweb10B_sp999 .* fineweb10B_sp512, fineweb10B_sp64"):
        fetch_fineweb("sp999", tmp_path / "a", repo=REPO, hub=hub, **QUIET)
    with pytest.raises(PgolfError, match="--train-shards 4: fineweb10B_sp512 on someone/fake-golf has 3"):
        fetch_fineweb("sp512", tmp_path / "b", train_shards=4, repo=REPO, hub=hub, **QUIET)
    (hub_dir / "datasets" / "datasets" / "fineweb10B_sp512" / "fineweb_train_000001.bin").unlink()
    with pytest.raises(PgolfError, match="fineweb_train_000001.bin: listed by the manifest but missing"):
        fetch_fineweb("sp512", tmp_path / "c", train_shards=2, repo=REPO, hub=hub, **QUIET)
    m = json.loads((hub_dir / "datasets" / "manifest.json").read_text())
    m["datasets"][0]["stats"]["tokens_val"] = 4235
    (hub_dir / "datasets" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(PgolfError, match="should have 4,235 val tokens, the directory has 4,234"):
        fetch_fineweb("sp512", tmp_path / "d", train_shards=0, repo=REPO, hub=hub, **QUIET)
    with pytest.raises(PgolfError, match="manifest.json: not found"):
        fetch_fineweb("sp512", tmp_path / "e", repo=REPO, hub=hub, remote_root="elsewhere", **QUIET)


def test_published_val_counts():
    assert "matches" in check_published_val("sp1024", "willdepueoai/parameter-golf", 62_021_632 + 1 + 1000)
    with pytest.raises(PgolfError, match="published runs used 62,021,632"):
        check_published_val("sp1024", "willdepueoai/parameter-golf", 62_021_632 - 7)
    assert "matches" in check_published_val("sp8192", "kevclark/parameter-golf", 40_540_161)
    assert "no published figure" in check_published_val("sp1024", "someone/else", 5)


class _FakeHF(SimpleHTTPRequestHandler):
    """/api/datasets/REPO/tree/REV/FOLDER (paginated by 2) and /datasets/REPO/resolve/REV/PATH with Range;
    `drop` lists paths whose first transfer is cut after 3,000 bytes."""

    root: Path
    drop: set

    def log_message(self, *a):
        pass

    def do_GET(self):
        prefix = f"/api/datasets/{REPO}/tree/main/"
        if self.path.startswith(prefix):
            folder, _, page = self.path[len(prefix):].partition("?page=")
            d = self.root / folder
            if not d.is_dir():
                return self.send_error(404)
            items = []
            for p in sorted(d.iterdir()):
                rel = f"{folder}/{p.name}"
                if p.is_dir():
                    items.append({"type": "directory", "path": rel})
                elif p.suffix == ".bin":
                    items.append({"type": "file", "path": rel, "size": p.stat().st_size, "oid": "x",
                                  "lfs": {"oid": hashlib.sha256(p.read_bytes()).hexdigest(), "size": p.stat().st_size}})
                else:
                    data = p.read_bytes()
                    oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                    items.append({"type": "file", "path": rel, "size": len(data), "oid": oid})
            i = int(page or 0)
            body = json.dumps(items[2 * i : 2 * i + 2]).encode()
            self.send_response(200)
            if 2 * i + 2 < len(items):
                self.send_header("Link", f'<http://{self.headers["Host"]}{prefix}{folder}?page={i + 1}>; rel="next"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        prefix = f"/datasets/{REPO}/resolve/main/"
        if not self.path.startswith(prefix) or not (self.root / self.path[len(prefix):]).is_file():
            return self.send_error(404)
        rel = self.path[len(prefix):]
        data = (self.root / rel).read_bytes()
        start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if rel in self.drop:
            self.drop.discard(rel)
            self.wfile.write(data[start : start + 3000])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(data[start:])


def test_plain_https_path_against_a_local_server(tmp_path, hub_dir):
    handler = type("H", (_FakeHF,), {"root": hub_dir, "drop": {"datasets/datasets/fineweb10B_sp512/fineweb_val_000000.bin"}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hub = UrlHub(REPO, f"http://127.0.0.1:{server.server_address[1]}", timeout=10)
        out = tmp_path / "data"
        with pytest.raises(PgolfError, match="fineweb_val_000000.bin: .*run again"):
            fetch_fineweb("sp512", out, train_shards=2, repo=REPO, hub=hub, **QUIET)
        part = out / "datasets" / "fineweb10B_sp512" / "fineweb_val_000000.bin.part"
        assert part.stat().st_size == 3000
        r = fetch_fineweb("sp512", out, train_shards=2, repo=REPO, hub=hub, **QUIET)
        assert r["files"]["resumed"] == 1 and r["val_tokens"] == 4234
        d = out / "datasets" / "fineweb10B_sp512"
        for p in d.iterdir():
            assert p.read_bytes() == (hub_dir / "datasets" / "datasets" / "fineweb10B_sp512" / p.name).read_bytes()
    finally:
        server.shutdown()


def test_huggingface_hub_path_with_a_fake_module(tmp_path, hub_dir, monkeypatch):
    calls = []

    class RepoFile:
        def __init__(self, path, p):
            self.path, self.size, self.blob_id = path, p.stat().st_size, "oid"
            self.lfs = types.SimpleNamespace(sha256=hashlib.sha256(p.read_bytes()).hexdigest())

    class HfApi:
        def list_repo_tree(self, repo_id, path_in_repo=None, *, repo_type=None, revision=None, **kw):
            assert (repo_id, repo_type, revision) == (REPO, "dataset", "main")
            d = hub_dir / path_in_repo
            return [RepoFile(f"{path_in_repo}/{p.name}", p) for p in sorted(d.iterdir()) if p.is_file()]

    def hf_hub_download(repo_id, filename, *, subfolder=None, repo_type=None, revision=None, local_dir=None, **kw):
        calls.append(f"{subfolder}/{filename}")
        dest = Path(local_dir) / subfolder / filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(hub_dir / subfolder / filename, dest)
        return str(dest)

    fake = types.SimpleNamespace(__version__="0.0-fake", HfApi=HfApi, hf_hub_download=hf_hub_download)
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    hub = HfHub(REPO)
    assert hub.name.startswith("huggingface_hub 0.0-fake")
    r = fetch_fineweb("sp512", tmp_path / "data", train_shards=1, repo=REPO, hub=hub, **QUIET)
    assert r["val_tokens"] == 4234 and len(calls) == 6 and r["files"] == {"downloaded": 5}
    assert not list((tmp_path / "data").rglob(".hf-staging"))  # staging is removed after each file


def test_cli_with_a_local_endpoint(tmp_path, hub_dir, capsys):
    rc = main(["data", "fineweb", "--variant", "sp512", "--train-shards", "1", "--repo", REPO, "--dir",
               str(tmp_path / "data"), "--endpoint", str(hub_dir), "--no-progress", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0 and "local directory" in err  # with --json, logs go to stderr and stdout is the JSON
    assert json.loads(out)["train_tokens"] == 5000
    rc = main(["data", "fineweb", "--variant", "sp512", "--train-shards", "9", "--repo", REPO, "--dir",
               str(tmp_path / "data"), "--endpoint", str(hub_dir), "--no-progress"])
    assert rc == 2 and "--train-shards 9" in capsys.readouterr().err
