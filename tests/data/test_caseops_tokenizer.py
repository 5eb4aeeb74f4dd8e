"""CaseOps tokenizers: operators at ids 4–7, `--check`, and per-token original byte counts summing to the text."""

from __future__ import annotations

import pytest
from test_caseops import ADVERSARIAL

from pgolf.cli import main
from pgolf.data.caseops import OPERATORS, encode, is_caseops_tokenizer
from pgolf.data.caseops_tokenizer import TRAINER_OPTIONS, check_caseops_tokenizer, encode_with_bytes
from pgolf.data.tokenizer import SPACE, load_sentencepiece, train_tokenizer
from pgolf.errors import PgolfError


@pytest.fixture(scope="module")
def sp(caseops_tokenizer_path):
    return load_sentencepiece(caseops_tokenizer_path)


def test_operators_sit_at_ids_4_to_7(sp, caseops_tokenizer_path):
    assert [sp.id_to_piece(i) for i in range(4, 8)] == list(OPERATORS)
    assert (sp.pad_id(), sp.bos_id(), sp.eos_id(), sp.unk_id()) == (0, 1, 2, 3)
    assert is_caseops_tokenizer(sp)
    check_caseops_tokenizer(sp, caseops_tokenizer_path)
    for op, i in zip(OPERATORS, range(4, 8)):  # always a token of its own, wherever it appears
        assert sp.encode(f"ab{op}cd").count(i) == 1


def test_per_document_bytes_sum_to_the_original_text(sp, docs):
    texts = list(docs) + [f"<{t}>" for t in ADVERSARIAL]  # delimited: every character is inside a piece's span
    for text, (ids, b) in zip(texts, encode_with_bytes(sp, texts)):
        assert len(ids) == b.size
        assert int(b.sum()) == len(text.encode("utf-8")), text[:40]


def test_characters_dropped_at_the_ends_count_nowhere(sp):
    """As in #1729: SentencePiece drops leading/trailing whitespace (and characters its normaliser deletes there);
    they are in no token's span. Inside the text, the same characters count with a neighbouring token."""
    (_, b), = encode_with_bytes(sp, ["\x01  Hello \u200b"])
    assert int(b.sum()) == len("Hello")
    (_, b), = encode_with_bytes(sp, ["a\x01 \u200b  b"])
    assert int(b.sum()) == len("a\x01 \u200b  b".encode())


def test_per_token_bytes_on_plain_ascii(sp):
    """Single-spaced ASCII: a token's bytes are its piece's letters (+1 for "▁"), operators count 0."""
    text = "The NASA Launch of McDonald and iPhone in 1969 was ABOUT the Moon"
    (ids, b), = encode_with_bytes(sp, [text])
    for i, n in zip(ids, b.tolist()):
        piece = sp.id_to_piece(i)
        want = 0 if piece in OPERATORS else 1 if sp.is_byte(i) else len(piece.replace(SPACE, " ").encode())
        assert n == want, piece
    assert sp.decode(ids) == encode(text)


def test_check_refuses_misplaced_or_missing_operators(tmp_path, docs, capsys, tokenizer_path):
    shifted = train_tokenizer(map(encode, docs[:60]), 400, tmp_path / "shifted", num_threads=2,
                              user_defined_symbols=["<x>", *TRAINER_OPTIONS["user_defined_symbols"]])
    assert main(["data", "tokenizer", "--check", str(shifted)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "U+E001 is at id 5, expected at id 4" in err
    assert main(["data", "tokenizer", "--check", str(tokenizer_path), "--caseops"]) == 2
    assert "U+E001 is missing" in capsys.readouterr().err
    with pytest.raises(PgolfError, match="expected at id 4"):
        check_caseops_tokenizer(load_sentencepiece(tokenizer_path), tokenizer_path)


def test_cli_trains_a_caseops_tokenizer(tmp_path, docs, capsys):
    import json

    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs[:60]), encoding="utf-8")
    assert main(["data", "tokenizer", "--caseops", "--vocab", "400", "--input", str(src), "-o",
                 str(tmp_path / "co"), "--threads", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert r["caseops"] and r["operator_ids"] == [4, 5, 6, 7] and r["bytes_counted"] == r["bytes_original"] > 0
