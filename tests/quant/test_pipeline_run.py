"""The post-training pipeline inside a real run: GPTQ calibrated on training batches inside a reserved time slice,
the seeds' int6 table, rANS storage, zstd, ±1 pruning to the decimal cap; and self-generated calibration."""

from __future__ import annotations

import json

import torch

from pgolf.artifact.model_file import load_model
from pgolf.cli import main
from pgolf.config import override
from pgolf.model.gpt import GPT
from pgolf.quant.calibrate import calibrate


def test_run_with_gptq_rans_auto_and_selective_prune(tiny_cfg, tmp_path, capsys):
    cfg = override(tiny_cfg, {"quant.policy": "pr1473", "quant.keep_float_max_numel": 4096,
                              "quant.gptq.batches": 2, "quant.gptq.batch_tokens": 512, "quant.gptq.block_size": 64,
                              "quant.gptq.reserve_seconds": 5.0, "quant.selective_prune": "on",
                              "artifact.storage": "rans", "artifact.codec": "zstd"})
    from pgolf.train.run import run

    s = run(cfg, tmp_path, echo=False)
    log = (tmp_path / "train.log").read_text()
    assert "gptq calibration (train)" in log and "selective ±1 pruning" in log and "storage rans" in log
    assert s["within_budget"] and abs(s["val_bpb"] - s["val_bpb_prequant"]) < 0.1
    model, info = load_model(tmp_path / "model.pga")
    assert info["codec"] == s["codec"]
    assert main(["size", str(tmp_path / "model.pga"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["storage"] == "rans" and out["model_bytes"] == s["model_bytes"]


def test_generated_calibration_hooks_every_casted_linear(tiny_cfg):
    cfg = override(tiny_cfg, {"quant.gptq.calibration": "generated", "quant.gptq.batches": 1,
                              "quant.gptq.gen_batch": 2, "quant.gptq.gen_seq_len": 16})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    lines = []
    H = calibrate(model, cfg.quant.gptq, None, torch.device("cpu"), lines.append, batch_tokens=cfg.train.batch_tokens, seq_len=cfg.train.seq_len, seed=cfg.train.seed)
    linears = {n for n, p in model.named_parameters() if n.endswith(".weight") and n != "tok_emb.weight"}
    assert set(H) == linears and any("KV cache" in s for s in lines)
    d = cfg.model.model_dim
    h = H["blocks.0.attn.c_q.weight"]
    assert h.shape == (d, d) and torch.allclose(h, h.T) and torch.all(h.diagonal() > 0)
    assert calibrate(model, None, None, torch.device("cpu"), batch_tokens=cfg.train.batch_tokens, seq_len=cfg.train.seq_len, seed=cfg.train.seed) is None


def test_run_with_embedding_gptq_and_awq(tiny_cfg, tmp_path, capsys):
    cfg = override(tiny_cfg, {"quant.policy": "pr1855", "quant.keep_float_max_numel": 4096,
                              "quant.gptq.batches": 2, "quant.gptq.batch_tokens": 512, "quant.gptq.block_size": 64,
                              "quant.gptq.embeddings": True, "quant.awq": "on", "artifact.storage": "rans"})
    from pgolf.train.run import run

    s = run(cfg, tmp_path, echo=False)
    log = (tmp_path / "train.log").read_text()
    assert "awq: int8 groups of 64 columns" in log
    assert abs(s["val_bpb"] - s["val_bpb_prequant"]) < 0.1
    from pgolf.artifact.pack import read_file

    _, meta, _ = read_file(tmp_path / "model.pga")
    emb = meta["tensors"]["tok_emb.weight"]
    assert (emb["method"], emb["bits"], emb["awq"]["bits"]) == ("gptq", 7, 8)
    load_model(tmp_path / "model.pga")
    assert main(["size", str(tmp_path / "model.pga"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["groups"]["awq"]["arrays"] == 2 * sum(1 for i in meta["tensors"].values() if i.get("awq"))
