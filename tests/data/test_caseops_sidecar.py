"""The val byte sidecar as data: `pgolf data verify` checks and counts, the sp8192_caseops download (local fake hub),
and every bad sidecar refused in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from test_data_fineweb import Spy

from pgolf.cli import main
from pgolf.data.build import build_corpus
from pgolf.data.fineweb import fetch_fineweb
from pgolf.data.hub import DirHub
from pgolf.data.shards import HEADER_BYTES, header_bytes, write_shard
from pgolf.data.sidecar import load_sidecar
from pgolf.errors import PgolfError

QUIET = dict(log=lambda *a: None, progress=False)
NAME = "fineweb10B_sp8192_lossless_caps_caseops_v1_reserved"


@pytest.fixture(scope="module")
def built(tmp_path_factory, docs, caseops_tokenizer_path):
    out = tmp_path_factory.mktemp("co") / "data"
    src = out.parent / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs[:40]), encoding="utf-8")
    build_corpus([src], caseops_tokenizer_path, out, val_docs=12, shard_tokens=3000, workers=1, caseops=True, **QUIET)
    return out


@pytest.fixture
def data(tmp_path, built):
    d = tmp_path / "d"
    shutil.copytree(built, d)
    (d / "manifest.json").unlink()  # the sidecar checks below must stand on their own
    return d


def verify(capsys, d, tok):
    rc = main(["data", "verify", str(d), "--tokenizer", str(tok)])
    out = capsys.readouterr()
    return rc, out.out, out.err.strip()


def test_verify_reports_counts_and_sidecar_totals(capsys, built, caseops_tokenizer_path):
    rc, out, err = verify(capsys, built, caseops_tokenizer_path)
    assert rc == 0, err
    m = json.loads((built / "manifest.json").read_text())
    n = m["val_tokens"]
    assert f"val_tokens {n:,} | target tokens {(n - 1) // 2048 * 2048:,} at T=2048 | train_shards " in out
    assert f"{m['caseops']['sidecar']['val_bytes']:,} bytes (tokenizer's accounting" in out


def rewrite(path, values, dtype="<u2"):
    path.write_bytes(header_bytes(values.size) + np.asarray(values).astype(dtype).tobytes())


@pytest.mark.parametrize("damage,msg", [
    ("missing", "fineweb_val_bytes_000001.bin: byte sidecar missing for fineweb_val_000001.bin"),
    ("short", "fineweb_val_bytes_000000.bin: byte sidecar holds 2,999 values, its val shard holds 3,000 tokens (short"),
    ("int32", "fineweb_val_bytes_000000.bin: byte sidecar holds 4-byte values, expected uint16"),
    ("shifted", "byte sidecar gives BOS at val position"),
    ("doubled", "the tokenizer's accounting"),
    ("operators", "byte sidecar gives the operator token at val position"),
])
def test_bad_sidecars_are_one_line(capsys, data, caseops_tokenizer_path, damage, msg):
    first = data / "fineweb_val_bytes_000000.bin"
    v = np.fromfile(first, "<u2", offset=HEADER_BYTES).astype(np.int64)
    toks = np.fromfile(data / "fineweb_val_000000.bin", "<u2", offset=HEADER_BYTES)
    if damage == "missing":
        (data / "fineweb_val_bytes_000001.bin").unlink()
    elif damage == "short":
        rewrite(first, v[:-1])
    elif damage == "int32":
        rewrite(first, v, "<i4")
    elif damage == "shifted":
        rewrite(first, np.roll(v, 1))
    elif damage == "doubled":
        rewrite(first, 2 * v)
    else:  # the look-up tables' rule: an operator piece counts its 3 UTF-8 bytes
        rewrite(first, np.where(np.isin(toks, [4, 5, 6]), 3, v))
    rc, _, err = verify(capsys, data, caseops_tokenizer_path)
    assert rc == 2 and err.count("\n") == 0 and msg in err, err


def test_caseops_tokenizer_on_data_without_a_sidecar_is_refused(capsys, data, caseops_tokenizer_path):
    for p in data.glob("fineweb_val_bytes_*.bin"):
        p.unlink()
    rc, _, err = verify(capsys, data, caseops_tokenizer_path)
    assert rc == 2 and err.count("\n") == 0 and "no fineweb_val_bytes_*.bin sidecar" in err


@pytest.fixture
def caseops_hub(tmp_path, built, caseops_tokenizer_path):
    root = tmp_path / "hub"
    ds = root / "datasets" / "datasets" / NAME
    shutil.copytree(built, ds)
    (ds / "manifest.json").unlink()
    tok = root / "datasets" / "tokenizers"
    tok.mkdir(parents=True)
    shutil.copy(caseops_tokenizer_path, tok / "caseops.model")
    m = json.loads((built / "manifest.json").read_text())
    entry = {"name": NAME, "tokenizer_name": "co", "vocab_size": 512, "val_bytes_glob": "fineweb_val_bytes_*.bin",
             "stats": {"files_val": sum(f["split"] == "val" for f in m["files"]), "files_train": 1,
                       "tokens_val": m["val_tokens"]}}
    (root / "datasets" / "manifest.json").write_text(json.dumps({
        "datasets": [entry], "tokenizers": [{"name": "co", "model_path": "tokenizers/caseops.model"}]}))
    return root


def test_sp8192_caseops_download_fetches_and_checks_the_sidecar(tmp_path, caseops_hub, built, capsys,
                                                                  caseops_tokenizer_path):
    out = tmp_path / "data"
    with pytest.raises(PgolfError, match="fineweb_val_bytes_000001.bin: checksum mismatch"):
        fetch_fineweb("sp8192_caseops", out, 1, repo="x/y", hub=Spy(DirHub(caseops_hub), "val_bytes_000001.bin"),
                      **QUIET)
    r = fetch_fineweb("sp8192_caseops", out, 1, repo="x/y", hub=DirHub(caseops_hub), **QUIET)
    d = out / "datasets" / NAME
    assert r["sidecar"] and r["files"]["kept"] >= 2  # the files verified before the corrupted one stay
    assert (load_sidecar(d) == load_sidecar(built)).all()
    rc, _, err = verify(capsys, d, out / "tokenizers" / "caseops.model")
    assert rc == 0, err


def test_caseops_entry_without_a_sidecar_is_refused(tmp_path, caseops_hub):
    mf = caseops_hub / "datasets" / "manifest.json"
    m = json.loads(mf.read_text())
    del m["datasets"][0]["val_bytes_glob"]
    mf.write_text(json.dumps(m))
    with pytest.raises(PgolfError, match="lists no val byte sidecar"):
        fetch_fineweb("sp8192_caseops", tmp_path / "data", 1, repo="x/y", hub=DirHub(caseops_hub), **QUIET)


def test_plain_shards_ignore_the_sidecar_name(tmp_path):
    """`fineweb_val_*` globs must never pick up `fineweb_val_bytes_*` as val tokens."""
    from pgolf.data.shards import load_split

    write_shard(tmp_path / "fineweb_val_000000.bin", np.arange(5, dtype=np.uint16))
    write_shard(tmp_path / "fineweb_val_bytes_000000.bin", np.ones(5, dtype=np.uint16))
    assert load_split(tmp_path, "val").tolist() == [0, 1, 2, 3, 4]
