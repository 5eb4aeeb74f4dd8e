"""`pgolf data verify`: counts on good data; every bad input is one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_path

from pgolf.cli import main
from pgolf.data.shards import write_shard


def run(capsys, *argv):
    rc = main(["data", "verify", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def good(tmp_path):
    d = tmp_path / "good"
    write_shard(d / "fineweb_val_000000.bin", np.array([1, 7, 8, 9, 1, 10], np.uint16))
    write_shard(d / "fineweb_train_000000.bin", np.array([1, 2, 3, 1, 4], np.uint16))
    write_shard(d / "fineweb_train_000001.bin", np.array([1, 5, 6, 511], np.uint16))
    return d


def test_counts_files_and_docs(capsys, good):
    rc, out, _ = run(capsys, good, "--json", "--vocab", 512)
    assert rc == 0 and "val_docs" not in json.loads(out)  # no tokenizer, no --bos-id: BOS unknown, docs not counted
    rc, out, _ = run(capsys, good, "--json", "--vocab", 512, "--bos-id", 1)
    r = json.loads(out)
    assert rc == 0
    assert (r["val_tokens"], r["train_tokens"], r["val_files"], r["train_files"]) == (6, 9, 1, 2)
    assert (r["val_docs"], r["train_docs"], r["max_id"]) == (2, 3, 511)
    assert [f["name"] for f in r["files"]] == ["fineweb_val_000000.bin", "fineweb_train_000000.bin",
                                               "fineweb_train_000001.bin"]
    assert r["files"][0]["bytes"] == 1024 + 2 * 6


def _mutate(path, fn):
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(fn(data)))


def _set_int(offset, value):
    def fn(d):
        d[offset : offset + 4] = int(value).to_bytes(4, "little", signed=True)
        return d
    return fn


@pytest.mark.parametrize("name,fn,msg", [
    ("fineweb_train_000001.bin", lambda d: d[:700], "truncated shard header (700 of 1024 bytes)"),
    ("fineweb_train_000001.bin", lambda d: d[:-1], "size 1031 bytes, expected 1032"),
    ("fineweb_val_000000.bin", _set_int(0, 20240521), "bad magic 20240521, expected 20240520"),
    ("fineweb_val_000000.bin", _set_int(4, 7), "unsupported shard version 7, expected 1"),
    ("fineweb_val_000000.bin", _set_int(8, 9), "size 1036 bytes, expected 1042"),
    ("fineweb_train_000000.bin", lambda d: d[:1026] + (600).to_bytes(2, "little") + d[1028:],
     "token id 600 ≥ vocab size 512 (first at position 1)"),
])
def test_bad_shards_are_one_line_errors(capsys, good, name, fn, msg):
    _mutate(good / name, fn)
    rc, out, err = run(capsys, good, "--vocab", 512)
    assert rc == 2 and not out
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(good / name) in err and msg in err


def test_missing_empty_and_gapped_dirs(capsys, tmp_path, good):
    rc, _, err = run(capsys, tmp_path / "absent")
    assert rc == 2 and "data directory does not exist" in err
    (tmp_path / "empty").mkdir()
    rc, _, err = run(capsys, tmp_path / "empty")
    assert rc == 2 and "no fineweb_val_*.bin shards found" in err
    (good / "fineweb_train_000001.bin").rename(good / "fineweb_train_000002.bin")
    rc, _, err = run(capsys, good)
    assert rc == 2 and "fineweb_train_000001.bin is missing" in err


def test_stale_manifests_are_caught(capsys, tmp_path, good):
    (good / "manifest.json").write_text(json.dumps({"val_tokens": 6, "train_shards": 2, "shard_tokens": 5}))
    rc, _, err = run(capsys, good)
    assert rc == 2 and "fineweb_train_000001.bin holds 4" in err
    (good / "manifest.json").write_text(json.dumps({"val_tokens": 7}))
    rc, _, err = run(capsys, good)
    assert rc == 2 and "val_tokens is 7, the directory has 6" in err
    (good / "manifest.json").unlink()
    # the challenge layout: ROOT/manifest.json describes ROOT/datasets/NAME
    root = tmp_path / "root"
    d = root / "datasets" / "fineweb10B_sp512"
    good.rename(d.parent.mkdir(parents=True) or d)
    entry = {"name": "fineweb10B_sp512", "vocab_size": 512, "stats": {"files_val": 1, "files_train": 2,
                                                                     "tokens_val": 6}}
    (root / "manifest.json").write_text(json.dumps({"datasets": [entry]}))
    assert run(capsys, d)[0] == 0
    entry["stats"]["tokens_val"] = 60
    (root / "manifest.json").write_text(json.dumps({"datasets": [entry]}))
    rc, _, err = run(capsys, d)
    assert rc == 2 and "should have 60 val tokens" in err and "stale manifest" in err
    (root / "manifest.json").write_text("{not json")
    rc, _, err = run(capsys, d)
    assert rc == 2 and "unreadable manifest" in err


def test_tokenizer_must_match_the_data(capsys, tmp_path, docs, tokenizer_path):
    """Shards written by one tokenizer, verified against another of the same vocab size → refused."""
    from pgolf.data.build import build_corpus
    from pgolf.data.tokenizer import train_tokenizer

    other = train_tokenizer(docs[60:], 512, tmp_path / "other", num_threads=2)
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs[:40]))
    out = tmp_path / "built"
    build_corpus([src], tokenizer_path, out, val_docs=10, workers=1, log=lambda *a: None, progress=False)
    rc, o, _ = run(capsys, out, "--tokenizer", tokenizer_path, "--json")
    assert rc == 0 and json.loads(o)["tokenizer_docs_reencoded"] == 5
    rc, _, err = run(capsys, out, "--tokenizer", other)
    assert rc == 2 and "not the tokenizer this data was built with" in err
    (out / "manifest.json").unlink()  # without the manifest, the re-encoding check still catches it
    rc, _, err = run(capsys, out, "--tokenizer", other)
    assert rc == 2 and "does not match the data" in err and err.count("\n") == 1
    rc, _, err = run(capsys, out, "--tokenizer", tmp_path / "nope.model")
    assert rc == 2 and "tokenizer file not found" in err
    rc, _, err = run(capsys, out, "--vocab", 100)
    assert rc == 2 and "≥ vocab size 100" in err


def test_shared_proxy_corpus_counts(capsys):
    d = shared_path("data", "gutenberg_sp1024")
    tok = shared_path("tokenizers", "fineweb_1024_bpe.model")
    rc, out, _ = run(capsys, d, "--json", "--tokenizer", tok)
    r = json.loads(out)
    assert rc == 0 and r["val_tokens"] == 4_000_000 and r["train_tokens"] == 20_000_000
    assert r["max_id"] == 1023 and r["tokenizer_docs_reencoded"] == 5
    rc, _, err = run(capsys, d, "--tokenizer", shared_path("tokenizers", "fineweb_8192_bpe.model"))
    assert rc == 2 and "does not match the data" in err
