"""`pgolf data build --caseops`: shards + val byte sidecar against a naive exporter; split and overlap refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pgolf.cli import main
from pgolf.data.build import build_corpus
from pgolf.data.caseops import encode
from pgolf.data.sidecar import load_sidecar
from pgolf.data.tokenizer import load_sentencepiece
from pgolf.errors import PgolfError

QUIET = dict(log=lambda *a: None, progress=False)


def write_jsonl(path, texts):
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def read_split(d, prefix):
    return [np.fromfile(p, "<u2", offset=1024) for p in sorted(d.glob(f"{prefix}*.bin"))
            if p.name[len(prefix):-4].isdigit()]


@pytest.mark.parametrize("workers", [1, 2])
def test_shards_and_sidecar_match_a_naive_export(tmp_path, docs, caseops_tokenizer_path, workers):
    sp = load_sentencepiece(caseops_tokenizer_path)
    texts = list(docs[:40]) + ["", "ALL CAPS \ue001 literal"]
    src = write_jsonl(tmp_path / "d.jsonl", texts)
    out = tmp_path / "out"
    m = build_corpus([src], caseops_tokenizer_path, out, val_docs=10, shard_tokens=2500, workers=workers,
                     caseops=True, **QUIET)
    val = [tok for t in texts[:10] for tok in [sp.bos_id(), *sp.encode(encode(t))]]
    train = [tok for t in texts[10:] for tok in [sp.bos_id(), *sp.encode(encode(t))]]
    assert np.concatenate(read_split(out, "fineweb_val_")).tolist() == val
    assert np.concatenate(read_split(out, "fineweb_train_")).tolist() == train
    vs, ss = read_split(out, "fineweb_val_"), read_split(out, "fineweb_val_bytes_")
    assert len(vs) == len(ss) >= 2 and [a.size for a in vs] == [b.size for b in ss]  # cut at the same places
    side = load_sidecar(out).astype(np.int64)
    toks = np.asarray(val)
    starts = np.flatnonzero(toks == sp.bos_id())
    assert (side[starts] == 0).all() and (side[np.isin(toks, [4, 5, 6])] == 0).all()
    for i, text in enumerate(texts[:10]):  # per document: Σ sidecar == the original UTF-8 length
        end = starts[i + 1] if i + 1 < starts.size else toks.size
        assert int(side[starts[i] : end].sum()) == len(text.encode("utf-8"))
    assert m["caseops"]["sidecar"]["val_bytes"] == sum(len(t.encode()) for t in texts[:10])
    assert m["split"]["canonical"] is None and json.loads((out / "manifest.json").read_text()) == m


def test_refusals_are_one_line_and_write_nothing(tmp_path, capsys, docs, caseops_tokenizer_path, tokenizer_path):
    base = ["data", "build", "--tokenizer", str(caseops_tokenizer_path), "--caseops", "--workers", "1",
            "--no-progress"]
    dup = write_jsonl(tmp_path / "dup.jsonl", [docs[0], docs[1], docs[2], docs[1]])
    fw = tmp_path / "fw"
    fw.mkdir()
    fineweb = write_jsonl(fw / "docs_selected.jsonl", list(docs[:12]))
    cases = [
        (["--docs", str(dup), "--val-docs", "2"], "val and train overlap"),
        (["--docs", str(fineweb), "--val-docs", "10"], "--val-docs 10: " + str(fineweb)),
    ]
    for extra, msg in cases:
        out = tmp_path / "never"
        assert main(base + extra + ["--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and msg in err, err
        assert not out.exists() and not list(tmp_path.glob(".never*"))
    assert main(["data", "build", "--docs", str(dup), "--tokenizer", str(caseops_tokenizer_path), "--val-docs", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert "a CaseOps tokenizer" in capsys.readouterr().err
    assert main(base[:3] + [str(tokenizer_path), "--caseops", "--docs", str(dup), "--val-docs", "1", "--out",
                            str(tmp_path / "y")]) == 2
    assert "U+E001 is missing" in capsys.readouterr().err


def test_noncanonical_fineweb_split_needs_the_flag_and_is_recorded(tmp_path, docs, caseops_tokenizer_path):
    src = write_jsonl(tmp_path / "docs_selected.jsonl", list(docs[:12]))
    with pytest.raises(PgolfError, match="issue #2127"):
        build_corpus([src], caseops_tokenizer_path, tmp_path / "a", val_docs=10, workers=1, caseops=True, **QUIET)
    m = build_corpus([src], caseops_tokenizer_path, tmp_path / "a", val_docs=10, workers=1, caseops=True,
                     noncanonical_val=True, **QUIET)
    assert m["split"] == {"val_docs": 10, "fineweb_inputs": [str(src)], "canonical": False,
                          "noncanonical_val_flag": True}
