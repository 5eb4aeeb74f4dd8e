"""`pgolf data build` against a naive exporter written here, on every input format, with its refusals."""

from __future__ import annotations

import gzip
import json
import lzma

import numpy as np
import pytest
from conftest import shared_path

from pgolf.cli import main
from pgolf.data.build import build_corpus
from pgolf.data.tokenizer import load_sentencepiece
from pgolf.errors import PgolfError

QUIET = dict(log=lambda *a: None, progress=False)


def naive_export(texts, sp, val_docs, shard_tokens, val_cap=0, train_cap=0):
    """The challenge's rule, spelled out: [BOS]+ids per doc, first val_docs are val, shards of shard_tokens."""
    streams = {"val": [], "train": []}
    for i, t in enumerate(texts):
        streams["val" if i < val_docs else "train"] += [sp.bos_id(), *sp.encode(t)]
    if val_cap:
        streams["val"] = streams["val"][:val_cap]
    if train_cap:
        streams["train"] = streams["train"][:train_cap]
    return {split: [s[i : i + shard_tokens] for i in range(0, len(s), shard_tokens)] for split, s in streams.items()}


def read_dir(d):
    out = {"val": [], "train": []}
    for split in out:
        for p in sorted(d.glob(f"fineweb_{split}_*.bin")):
            out[split].append(np.fromfile(p, "<u2", offset=1024).tolist())
    return out


def write_jsonl(path, texts, opener=open):
    with opener(path, "wt", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t, "id": 1}) + "\n")
    return path


@pytest.fixture(scope="module")
def sp(tokenizer_path):
    return load_sentencepiece(tokenizer_path)


@pytest.mark.parametrize("workers", [1, 2])
def test_matches_the_naive_exporter_across_files_and_shards(tmp_path, capsys, docs, tokenizer_path, sp, workers):
    texts = docs[:50] + ["", "x"]  # an empty document is [BOS] alone, as in the challenge's exporter
    a = write_jsonl(tmp_path / "a.jsonl", texts[:30])
    b = write_jsonl(tmp_path / "b.jsonl.gz", texts[30:], gzip.open)
    out = tmp_path / "out"
    m = build_corpus([a, b], tokenizer_path, out, val_docs=7, shard_tokens=3000, workers=workers, **QUIET)
    want = naive_export(texts, sp, 7, 3000)
    assert read_dir(out) == want
    assert m["val_docs"] == 7 and m["train_docs"] == len(texts) - 7
    assert m["val_tokens"] == sum(map(len, want["val"])) and m["train_tokens"] == sum(map(len, want["train"]))
    assert [i["docs_read"] for i in m["inputs"]] == [30, len(texts) - 30]
    import hashlib

    assert m["inputs"][1]["sha256"] == hashlib.sha256(b.read_bytes()).hexdigest()
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["files"] == m["files"] and len(m["files"]) == len(want["val"]) + len(want["train"])
    assert all(f["sha256"] == hashlib.sha256((out / f["name"]).read_bytes()).hexdigest() for f in m["files"])
    assert not list(tmp_path.glob(".out.*"))  # the temporary build directory is gone
    assert main(["data", "verify", str(out), "--tokenizer", str(tokenizer_path), "--checksums"]) == 0
    shard = out / m["files"][-1]["name"]
    raw = bytearray(shard.read_bytes())
    raw[-2:] = (7).to_bytes(2, "little") if raw[-2:] != (7).to_bytes(2, "little") else (8).to_bytes(2, "little")
    shard.write_bytes(bytes(raw))  # same size, same count: only the recorded sha256 can tell
    assert main(["data", "verify", str(out)]) == 0
    capsys.readouterr()
    assert main(["data", "verify", str(out), "--checksums"]) == 2
    assert f"{shard}: sha256 differs from the manifest's" in capsys.readouterr().err


def test_formats_and_compressions_give_the_same_shards(tmp_path, docs, tokenizer_path, sp):
    import zstandard

    texts = docs[:12]
    ref = naive_export(texts, sp, 4, 10**6)
    inputs = {
        "xz": [write_jsonl(tmp_path / "d.jsonl.xz", texts, lzma.open)],
        "zst": [tmp_path / "d.jsonl.zst"],
        "txt": [tmp_path / f"{i:03d}.txt" for i in range(len(texts))],
    }
    inputs["zst"][0].write_bytes(zstandard.ZstdCompressor().compress(
        "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()))
    for p, t in zip(inputs["txt"], texts):
        p.write_text(t, encoding="utf-8")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        inputs["parquet"] = [tmp_path / "d.parquet"]
        pq.write_table(pa.table({"text": texts}), inputs["parquet"][0])
    except ImportError:
        pass
    for name, paths in inputs.items():
        out = tmp_path / f"out_{name}"
        build_corpus(paths, tokenizer_path, out, val_docs=4, workers=1, **QUIET)
        assert read_dir(out) == ref, name


def test_token_caps_cut_the_streams(tmp_path, docs, tokenizer_path, sp):
    texts = docs[:40]
    src = write_jsonl(tmp_path / "d.jsonl", texts)
    out = tmp_path / "out"
    m = build_corpus([src], tokenizer_path, out, val_docs=10, shard_tokens=2000, val_tokens=2500,
                     train_tokens=4500, workers=2, **QUIET)
    assert read_dir(out) == naive_export(texts, sp, 10, 2000, 2500, 4500)
    assert m["val_tokens"] == 2500 and m["train_tokens"] == 4500 and m["dropped"]["stopped_at_train_cap"]
    starts = np.cumsum([0] + [len(sp.encode(t)) + 1 for t in texts[10:]])
    assert m["val_docs"] == 10 and m["train_docs"] == int((starts < 4500).sum())  # docs with a token written


def test_refusals(tmp_path, docs, tokenizer_path):
    src = write_jsonl(tmp_path / "d.jsonl", docs[:10])
    with pytest.raises(PgolfError, match="inputs hold only 10 documents"):
        build_corpus([src], tokenizer_path, tmp_path / "o1", val_docs=11, workers=1, **QUIET)
    assert not (tmp_path / "o1").exists() and not list(tmp_path.glob(".o1.*"))
    dup = write_jsonl(tmp_path / "dup.jsonl", docs[:5] + [docs[2]])
    with pytest.raises(PgolfError, match=r"dup.jsonl:6 \(document #5\): a train document with the same text"):
        build_corpus([dup], tokenizer_path, tmp_path / "o2", val_docs=5, workers=1, **QUIET)
    m = build_corpus([dup], tokenizer_path, tmp_path / "o2", val_docs=5, workers=1, allow_duplicates=True, **QUIET)
    assert m["overlap_check"]["val_train_duplicates"] == 1
    with pytest.raises(PgolfError, match="exists and is not empty"):
        build_corpus([src], tokenizer_path, tmp_path / "o2", val_docs=2, workers=1, **QUIET)
    build_corpus([src], tokenizer_path, tmp_path / "o2", val_docs=2, workers=1, force=True, **QUIET)
    assert json.loads((tmp_path / "o2" / "manifest.json").read_text())["val_docs"] == 2


@pytest.mark.parametrize("content,msg", [
    ('{"text": "a"}\n{"text": \n', r"bad.jsonl:2: invalid JSON"),
    ('{"text": "a"}\n{"body": "b"}\n', r"bad.jsonl:2: no 'text' field"),
    ('{"text": "a"}\n\n{"text": "b"}\n', r"bad.jsonl:2: blank line"),
    ('{"text": 5}\n', r"bad.jsonl:1: 'text' is not a string"),
])
def test_bad_documents_name_file_and_line(tmp_path, capsys, tokenizer_path, content, msg):
    (tmp_path / "bad.jsonl").write_text(content)
    rc = main(["data", "build", "--docs", str(tmp_path / "bad.jsonl"), "--tokenizer", str(tokenizer_path),
               "--out", str(tmp_path / "o"), "--val-docs", "1", "--workers", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert __import__("re").search(msg, err)
    assert not (tmp_path / "o").exists()


def test_damaged_and_unknown_inputs(tmp_path, tokenizer_path):
    xz = write_jsonl(tmp_path / "d.jsonl.xz", ["hello world"] * 2000, lzma.open)
    xz.write_bytes(xz.read_bytes()[:-40])
    with pytest.raises(PgolfError, match="d.jsonl.xz: cannot read"):
        build_corpus([xz], tokenizer_path, tmp_path / "o", val_docs=1, workers=1, **QUIET)
    (tmp_path / "d.csv").write_text("a,b\n")
    with pytest.raises(PgolfError, match="unknown document format"):
        build_corpus([tmp_path / "d.csv"], tokenizer_path, tmp_path / "o", val_docs=1, workers=1, **QUIET)
    with pytest.raises(PgolfError, match="input file not found"):
        build_corpus([tmp_path / "nope.jsonl"], tokenizer_path, tmp_path / "o", val_docs=1, workers=1, **QUIET)


def test_reproduces_the_shared_val_shard_on_a_prefix(tmp_path):
    """The proxy val shard is the [BOS]+doc stream of gutenberg_docs_val.jsonl.xz (full check: benchmarks/)."""
    docs_xz = shared_path("data", "gutenberg_docs_val.jsonl.xz")
    tok = shared_path("tokenizers", "fineweb_1024_bpe.model")
    shard = shared_path("data", "gutenberg_sp1024", "fineweb_val_000000.bin")
    with lzma.open(docs_xz, "rb") as f:
        head = [next(f) for _ in range(250)]
    prefix = tmp_path / "head.jsonl.xz"
    with lzma.open(prefix, "wb") as f:
        f.writelines(head)
    m = build_corpus([prefix], tok, tmp_path / "out", val_docs=250, shard_tokens=4_000_000, workers=2, **QUIET)
    got = np.fromfile(tmp_path / "out" / "fineweb_val_000000.bin", "<u2", offset=1024)
    ref = np.fromfile(shard, "<u2", offset=1024, count=got.size)
    assert got.size == m["val_tokens"] > 100_000 and np.array_equal(got, ref)
