"""The artifact records its tokenizer's sha256; `pgolf eval` refuses another tokenizer of the same vocabulary size in
one line unless told `--allow-tokenizer-mismatch` (pgolf.data.tokenizer_id; issue 16)."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from conftest import TEST_VOCAB

from pgolf.artifact.model_file import encode_model, load_artifact
from pgolf.artifact.pack import write_atomic
from pgolf.cli import main
from pgolf.config import override
from pgolf.data.tokenizer_id import tokenizer_record


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, shard_dir, tokenizer_path):
    from pgolf.model.gpt import GPT
    from pgolf.recipes import get_recipe

    cfg = override(get_recipe("tiny").build(), {"model.vocab_size": TEST_VOCAB, "model.num_layers": 2})
    torch.manual_seed(0)
    blob, _, _ = encode_model(GPT(cfg.model).state_dict(), cfg.model, cfg.quant, cfg.artifact,
                              tokenizer=tokenizer_record(tokenizer_path))
    path = tmp_path_factory.mktemp("art") / "model.pga"
    write_atomic(path, blob)
    return path


@pytest.fixture(scope="module")
def other_tokenizer(tmp_path_factory, docs):
    """Same vocabulary size, other training documents: loads fine, different pieces."""
    from pgolf.data.tokenizer import train_tokenizer

    return train_tokenizer(docs[60:] + docs[:20], TEST_VOCAB, tmp_path_factory.mktemp("tok2") / "tok", num_threads=2)


def _eval(capsys, artifact, shard_dir, tok, *extra):
    rc = main(["eval", str(artifact), "--data", str(shard_dir), "--tokenizer", str(tok), "--seq-len", "64",
               "--max-tokens", "512", "--batch-tokens", "512", "--device", "cpu", "--json", *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_artifact_records_the_tokenizer_sha256(artifact, tokenizer_path):
    _, _, info = load_artifact(artifact)
    assert info["tokenizer"] == {"sha256": hashlib.sha256(tokenizer_path.read_bytes()).hexdigest(), "mode": "plain"}


def test_eval_refuses_another_tokenizer_in_one_line(capsys, artifact, shard_dir, tokenizer_path, other_tokenizer):
    assert other_tokenizer.read_bytes() != tokenizer_path.read_bytes()
    rc, out, err = _eval(capsys, artifact, shard_dir, other_tokenizer)
    assert rc == 2 and out == "" and len(err.splitlines()) == 1
    assert "but the artifact was trained with" in err and "--allow-tokenizer-mismatch" in err

    rc, out, _ = _eval(capsys, artifact, shard_dir, other_tokenizer, "--allow-tokenizer-mismatch")
    assert rc == 0 and json.loads(out)["tokenizer_check"].startswith("tokenizer MISMATCH allowed")

    rc, out, _ = _eval(capsys, artifact, shard_dir, tokenizer_path)
    assert rc == 0 and json.loads(out)["tokenizer_check"].endswith("matches the artifact")


def test_artifact_without_a_record_is_scored_with_a_note(capsys, tmp_path, shard_dir, tokenizer_path):
    from pgolf.model.gpt import GPT
    from pgolf.recipes import get_recipe

    cfg = override(get_recipe("tiny").build(), {"model.vocab_size": TEST_VOCAB, "model.num_layers": 2})
    assert tokenizer_record(tmp_path / "absent.model") is None
    blob, _, _ = encode_model(GPT(cfg.model).state_dict(), cfg.model, cfg.quant, cfg.artifact)
    write_atomic(tmp_path / "old.pga", blob)
    assert load_artifact(tmp_path / "old.pga")[2]["tokenizer"] is None
    rc, out, _ = _eval(capsys, tmp_path / "old.pga", shard_dir, tokenizer_path)
    assert rc == 0 and json.loads(out)["tokenizer_check"] == "tokenizer not checked (the artifact records none)"
