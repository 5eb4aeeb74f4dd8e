"""Model artifacts across storages and codecs: identical logits after the round trip, deterministic bytes, refusal of
pickles and truncations, brotli as an optional dependency, and `pgolf size` against the decimal cap."""

from __future__ import annotations

import io
import json
import sys

import pytest
import torch

from pgolf.artifact import codecs
from pgolf.artifact.model_file import encode_model, export_model, load_model
from pgolf.artifact.size import breakdown
from pgolf.cli import main
from pgolf.config import Config, override
from pgolf.errors import PgolfError
from pgolf.model.gpt import GPT


def _model(policy="pr1473", storage="rans", codec="lzma"):
    torch.manual_seed(0)
    cfg = override(Config(), {"model.num_layers": 2, "model.model_dim": 64, "model.num_heads": 4,
                              "model.num_kv_heads": 2, "model.vocab_size": 128, "quant.keep_float_max_numel": 2048,
                              "quant.policy": policy, "artifact.storage": storage, "artifact.codec": codec})
    m = GPT(cfg.model)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m, cfg


@pytest.mark.parametrize("storage", ["int8", "packed", "rans"])
@pytest.mark.parametrize("policy", ["pr1473", "pr295"])
def test_round_trip_logits_identical(tmp_path, storage, policy):
    m, cfg = _model(policy, storage)
    info, deq = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    ref = GPT(cfg.model)
    ref.load_state_dict(deq)
    loaded, rinfo = load_model(tmp_path / "m.pga")
    idx = torch.randint(0, 128, (2, 16))
    assert torch.equal(loaded.logits(idx), ref.logits(idx))
    assert rinfo["file_bytes"] == info["model_bytes"] and rinfo["decompress_seconds"] >= 0
    assert encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[0] == (tmp_path / "m.pga").read_bytes()  # deterministic


def test_rans_storage_is_smaller_than_int8_containers():
    m, cfg = _model(storage="int8")
    a = encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[1]["model_bytes"]
    b = encode_model(m.state_dict(), cfg.model, cfg.quant, override(cfg, {"artifact.storage": "rans"}).artifact)[1]["model_bytes"]
    assert b < a


def test_pickle_and_truncated_artifacts_are_refused(tmp_path):
    m, cfg = _model()
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    (tmp_path / "p.pt").write_bytes(buf.getvalue())
    with pytest.raises(PgolfError, match="not a pgolf artifact"):
        load_model(tmp_path / "p.pt")
    export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    data = (tmp_path / "m.pga").read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 5):
        (tmp_path / "t.pga").write_bytes(data[:cut])
        with pytest.raises(PgolfError) as e:
            load_model(tmp_path / "t.pga")
        assert "\n" not in str(e.value) and "t.pga" in str(e.value)
    assert main(["size", str(tmp_path / "t.pga")]) == 2


def test_brotli_and_auto(monkeypatch):
    data = b"pgolf " * 1000
    assert codecs.decompress(codecs.compress(data, "brotli"), "brotli") == data
    used, blob, sizes = codecs.compress_report(data, "auto")
    assert set(sizes) == {"zlib", "zstd", "lzma", "brotli"} and len(blob) == min(v for v in sizes.values() if v)
    assert sizes[used] == len(blob)
    monkeypatch.setitem(sys.modules, "brotli", None)  # as if not installed
    with pytest.raises(PgolfError, match=r"brotli.*not installed"):
        codecs.compress(data, "brotli")
    used, _, sizes = codecs.compress_report(data, "auto")
    assert sizes["brotli"] is None and used != "brotli"  # reported as skipped, not silently


def test_size_cli_breakdown_and_budget(tmp_path, capsys):
    m, cfg = _model(storage="rans", codec="brotli")
    info, _ = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    b = breakdown(tmp_path / "m.pga")
    g = b["groups"]
    n_params = sum(p.numel() for p in m.parameters())
    assert sum(v["values"] for k, v in g.items() if k != "scales") == n_params
    assert g["embeddings"]["values"] == 128 * 64 and g["mlp"]["values"] == 2 * 2 * 64 * 128
    assert g["control"]["values"] > 0 and g["scales"]["arrays"] > 0 and g["metadata"]["compressed_bytes"] > 0
    assert main(["size", str(tmp_path / "m.pga"), "--json", "--code-bytes", "1000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_bytes"] == info["model_bytes"] + 1000 and out["within_budget"] and out["codec"] == "brotli"
    assert main(["size", str(tmp_path / "m.pga"), "--code-bytes", "1000"]) == 0
    assert "attention" in capsys.readouterr().out
    cap = info["model_bytes"] + 999
    assert main(["size", str(tmp_path / "m.pga"), "--code-bytes", "1000", "--max-bytes", str(cap)]) == 2
    err = capsys.readouterr().err
    assert f"over the cap of {cap:,}" in err and err.count("\n") == 1
