"""`pgolf eval`: flags and eval.* words reach the evaluation, timings are reported, bad input is one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _evalkit import _threads  # noqa: F401 (autouse: one thread)

from pgolf.artifact.model_file import export_model, load_model
from pgolf.cli import main
from pgolf.data.shards import load_split
from pgolf.data.tokenizer import byte_luts, load_sentencepiece
from pgolf.eval.bpb import DeviceLUT
from pgolf.eval.run import evaluate
from pgolf.eval.standard import trim_val
from pgolf.model.gpt import GPT
from pgolf.runtime.dist import init_runtime


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, shard_dir, tokenizer_path):
    from pgolf.config import override
    from pgolf.recipes import get_recipe

    cfg = override(get_recipe("tiny").build(), {"model.vocab_size": 512, "model.num_layers": 2,
                                                "model.model_dim": 64})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path_factory.mktemp("art") / "m.pga"
    export_model(model, cfg.model, cfg.quant, cfg.artifact, path)
    return path


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_eval_json_reports_the_pass_and_its_timings(capsys, artifact, shard_dir, tokenizer_path):
    rc, out, err = run(capsys, "eval", artifact, "--data", shard_dir, "--tokenizer", tokenizer_path, "--seq-len", 64,
                       "--stride", 16, "--doc-aware", "--max-tokens", 1024, "--batch-tokens", 512, "--json")
    assert rc == 0, err
    d = json.loads(out)
    model, _ = load_model(artifact)
    sp = load_sentencepiece(tokenizer_path)
    val = trim_val(np.asarray(load_split(shard_dir, "val", 512)), 64, 1024)
    ref = evaluate(model, val, 64, 16, 512, DeviceLUT(byte_luts(sp, 512), torch.device("cpu")), init_runtime("cpu"),
                   doc_aware=True)
    assert d["val_bpb"] == pytest.approx(ref.val_bpb, rel=1e-9) and d["scored_tokens"] == 1024
    assert d["scored_bytes"] == ref.scored_bytes and d["doc_aware"] and d["stride"] == 16 and d["ttt"] is None
    parts = d["startup_seconds"] + d["load_seconds"] + d["data_seconds"] + d["warmup_seconds"] + d["eval_seconds"]
    assert 0 <= d["decompress_seconds"] <= d["load_seconds"] and parts <= d["total_seconds"]
    assert d["partial"] and not d["compile"] and "rope: eval length 64" in d["rope"]


@pytest.mark.parametrize("mode,words", [("full", ["chunk_tokens=256", "eval.ttt.epochs=1"]),
                                        ("lora", ["lora.rank=2", "chunk_tokens=32"])])
def test_eval_with_ttt(capsys, artifact, shard_dir, tokenizer_path, mode, words):
    rc, out, err = run(capsys, "eval", artifact, "--data", shard_dir, "--tokenizer", tokenizer_path, "--seq-len", 64,
                       "--stride", 32, "--max-tokens", 1024, "--batch-tokens", 512, "--json", "--ttt", mode, *words)
    assert rc == 0, err
    d = json.loads(out)
    assert d["scored_tokens"] == 1024 and d["ttt"]["method"] == mode and d["ttt"]["steps"] > 0
    t = d["eval_config"]["ttt"]
    if mode == "lora":
        assert t["lora"]["rank"] == 2 and t["chunk_tokens"] == 32 and t["optimizer"] == "adam"
    else:
        assert t["lora"] is None and t["epochs"] == 1 and t["chunk_tokens"] == 256


def test_eval_human_line(capsys, artifact, shard_dir, tokenizer_path):
    rc, out, _ = run(capsys, "eval", artifact, "--data", shard_dir, "--tokenizer", tokenizer_path, "--seq-len", 64,
                     "--max-tokens", 512)
    assert rc == 0 and out.startswith("val_bpb ") and "standard" in out and "end to end" in out


def test_eval_rope_base_flag(capsys, artifact, shard_dir, tokenizer_path):
    """--rope-base gives the same result as evaluating a model whose config has that base, and says so."""
    from dataclasses import replace

    argv = ["eval", artifact, "--data", shard_dir, "--tokenizer", tokenizer_path, "--seq-len", 128, "--stride", 64,
            "--max-tokens", 1024, "--batch-tokens", 1024, "--json"]
    rc, out, err = run(capsys, *argv, "--rope-base", 40000)
    assert rc == 0, err
    d = json.loads(out)
    model, _ = load_model(artifact)
    rebuilt = GPT(replace(model.cfg, rope_base=40000.0))
    rebuilt.load_state_dict(model.state_dict())
    sp = load_sentencepiece(tokenizer_path)
    val = trim_val(np.asarray(load_split(shard_dir, "val", 512)), 128, 1024)
    lut = DeviceLUT(byte_luts(sp, 512), torch.device("cpu"))
    ref = evaluate(rebuilt, val, 128, 64, 1024, lut, init_runtime("cpu"))
    plain = evaluate(model, val, 128, 64, 1024, lut, init_runtime("cpu"))
    assert d["val_bpb"] == pytest.approx(ref.val_bpb, rel=1e-9) and d["val_bpb"] != pytest.approx(plain.val_bpb)
    assert d["rope_base"] == 40000.0 and "base 40000 set for this evaluation" in d["rope"]
    rc, _, err = run(capsys, *argv, "--rope-base", -1)
    assert rc == 2 and "--rope-base: expected a positive number" in err


@pytest.mark.parametrize("words,msg", [
    (["--ttt", "lora", "chunk_tokens=100"], "eval.ttt.chunk_tokens: must be ≤ the eval sequence length 64"),
    (["--ttt", "lora", "lora.targets=attn.nope"], "eval.ttt.lora.targets=attn.nope: matches no"),
    (["--ttt", "full", "num_layers=3"], "eval.ttt.num_layers: unknown key"),
    (["--ttt", "full", "lr=fast"], "eval.ttt.lr: expected float"),
    (["--ttt", "sgd"], "--ttt: expected none, full or lora first"),
    (["--stride", "65"], "--stride: expected 0..64"),
])
def test_eval_bad_input_is_one_line(capsys, artifact, shard_dir, tokenizer_path, words, msg):
    rc, _, err = run(capsys, "eval", artifact, "--data", shard_dir, "--tokenizer", tokenizer_path, "--seq-len", 64,
                     "--max-tokens", 512, *words)
    assert rc == 2 and err.count("\n") == 1 and msg in err, err
