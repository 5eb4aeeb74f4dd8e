"""Tokenizers: the byte-accounting audit against the normalised text's UTF-8 length, refusals, the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import shared_path

from pgolf.cli import main
from pgolf.data.tokenizer import audit_tokenizer, check_byte_accounting, load_sentencepiece
from pgolf.errors import PgolfError

UNICODE = ["Grüße aus Köln — 東京 and emoji 🎉 in one line.", "  leading   spaces\tand\ttabs\n\nnew  lines  ",
           "digits 1234567 split, ｆｕｌｌｗｉｄｔｈ (NFKC) ﬁ ligature."]


def test_byte_luts_count_exactly_the_normalised_bytes(docs, tokenizer_path):
    """With byte fallback there is no <unk>, so Σ LUT bytes over [BOS]+ids == len(normalize(text).encode())."""
    sp = load_sentencepiece(tokenizer_path)
    r = audit_tokenizer(sp, docs[:30] + UNICODE)
    assert r["byte_pieces"] == 256 and r["unk_tokens"] == 0
    assert r["bytes_counted"] == r["bytes_normalized"] and r["byte_coverage"] == 1.0
    per_doc = [audit_tokenizer(sp, [t]) for t in UNICODE]
    assert all(d["bytes_counted"] == d["bytes_normalized"] for d in per_doc)
    assert per_doc[0]["bytes_counted"] == len(UNICODE[0].encode("utf-8"))  # already normalised text


def test_unk_bytes_are_what_the_coverage_shows():
    sp = load_sentencepiece(shared_path("tokenizers", "fineweb_1024_bpe.model"))  # no byte fallback
    r = audit_tokenizer(sp, UNICODE[:1])
    assert r["byte_pieces"] == 0 and r["unk_tokens"] > 0 and r["byte_coverage"] < 1.0


class _NoSpace:
    """A processor whose vocabulary lacks the standalone '▁' piece (the tokenizer bug of issue #897)."""

    def __init__(self, sp):
        self.sp = sp

    def __getattr__(self, name):
        return getattr(self.sp, name)

    def piece_to_id(self, piece):
        return self.sp.unk_id() if piece == "\u2581" else self.sp.piece_to_id(piece)


def test_refuses_tokenizers_that_break_byte_accounting(tokenizer_path):
    sp = load_sentencepiece(tokenizer_path)
    check_byte_accounting(sp, tokenizer_path)
    with pytest.raises(PgolfError, match="no standalone '▁' piece"):
        check_byte_accounting(_NoSpace(sp), "bad.model")


def test_cli_trains_with_the_challenge_spec_and_audits(tmp_path, docs, capsys):
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs[:25] + ["\x00", "   "]))
    assert main(["data", "tokenizer", "--input", str(src), "--vocab", "300", "-o", str(tmp_path / "tok")]) == 2
    err = capsys.readouterr().err
    assert "SentencePiece training failed (Vocabulary size is smaller than required_chars" in err
    assert err.count("\n") == 1 and not list(tmp_path.glob("*tok*"))
    rc = main(["data", "tokenizer", "--input", str(src), "--vocab", "400", "-o", str(tmp_path / "tok"),
               "--threads", "2", "--json"])
    out = capsys.readouterr().out
    r = json.loads(out[out.index("{"):])
    assert rc == 0 and r["vocab_size"] == 400 and r["byte_pieces"] == 256 and r["byte_coverage"] == 1.0
    assert r["docs"] == 25  # NUL-only and blank documents are dropped, as the challenge's trainer does
    sp = load_sentencepiece(tmp_path / "tok.model")
    assert (sp.pad_id(), sp.bos_id(), sp.eos_id(), sp.unk_id()) == (0, 1, 2, 3)
    assert sp.encode("hello")[0] != sp.piece_to_id("\u2581")  # add_dummy_prefix=False
    assert main(["data", "tokenizer", "--check", str(tmp_path / "tok.model")]) == 0
    assert main(["data", "tokenizer", "--input", str(src)]) == 2
    assert "--vocab N and -o PREFIX are required" in capsys.readouterr().err
