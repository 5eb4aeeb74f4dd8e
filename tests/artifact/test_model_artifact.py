"""Model artifacts across storages and codecs: identical logits after the round trip, deterministic bytes, refusal of
pickles, truncations and a model config that does not match, brotli as an optional dependency, and `pgolf size`
against the decimal cap."""

from __future__ import annotations

import io
import json
import sys
import zlib

import pytest
import torch

from pgolf.artifact import codecs
from pgolf.artifact.model_file import encode_model, export_model, load_model
from pgolf.artifact.pack import pack, read_file, unpack
from pgolf.artifact.size import breakdown
from pgolf.cli import main
from pgolf.config import Config, ModelConfig, override
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


# ---------------------------------------------------------------- the baseline policy's int8 artifact (3 layers)


def _baseline_model(seed=0):
    torch.manual_seed(seed)
    cfg = override(Config(), {"model.num_layers": 3, "model.model_dim": 64, "model.num_heads": 4,
                              "model.num_kv_heads": 2, "model.vocab_size": 200, "quant.keep_float_max_numel": 4096})
    m = GPT(cfg.model)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m, cfg


def test_round_trip_logits_equal_in_memory_dequantized(tmp_path):
    m, cfg = _baseline_model()
    info, deq = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    ref = GPT(cfg.model)
    ref.load_state_dict(deq)
    loaded, rinfo = load_model(tmp_path / "m.pga")
    idx = torch.randint(0, 200, (2, 24))
    assert torch.equal(loaded.logits(idx), ref.logits(idx))
    assert rinfo["file_bytes"] == info["model_bytes"] == (tmp_path / "m.pga").stat().st_size
    # quantization changed something, but not much
    assert not torch.equal(loaded.logits(idx), m.logits(idx))
    assert (loaded.logits(idx) - m.logits(idx)).abs().max() < 0.5


def test_encoding_is_deterministic():
    m, cfg = _baseline_model()
    assert encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[0] == encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[0]


@pytest.mark.parametrize("codec", ["zlib", "zstd", "lzma", "auto"])
def test_codecs_round_trip(tmp_path, codec):
    m, cfg = _baseline_model()
    cfg = override(cfg, {"artifact.codec": codec})
    info, _ = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    loaded, rinfo = load_model(tmp_path / "m.pga")
    assert rinfo["codec"] == info["codec"] and (codec == "auto" or info["codec"] == codec)


def test_pickle_artifact_is_refused(tmp_path):
    m, _ = _baseline_model()
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    for name, data in (("torch.pt", buf.getvalue()), ("zlib.ptz", zlib.compress(buf.getvalue()))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(PgolfError, match="not a pgolf artifact"):
            load_model(tmp_path / name)


def test_truncated_and_corrupt_artifacts_are_refused(tmp_path):
    m, cfg = _baseline_model()
    export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    data = (tmp_path / "m.pga").read_bytes()
    (tmp_path / "t.pga").write_bytes(data[: len(data) // 2])
    with pytest.raises(PgolfError, match="truncated or corrupt"):
        read_file(tmp_path / "t.pga")
    with pytest.raises(PgolfError, match="cannot read artifact"):
        read_file(tmp_path / "missing.pga")
    # a payload whose array table points past the end
    blob = pack({"a": torch.zeros(10)}, {})
    with pytest.raises(PgolfError, match="out of bounds"):
        unpack(blob[:-8])


def test_wrong_config_in_artifact_is_refused(tmp_path):
    m, cfg = _baseline_model()
    bad = override(cfg, {"model.num_layers": 4})
    from pgolf.artifact.model_file import encode_model as enc
    from pgolf.artifact.pack import write_atomic

    blob, _, _ = enc(m.state_dict(), bad.model, bad.quant, bad.artifact)
    write_atomic(tmp_path / "bad.pga", blob)
    with pytest.raises(PgolfError, match="do not match the model config"):
        load_model(tmp_path / "bad.pga")
    assert isinstance(ModelConfig(), ModelConfig)
