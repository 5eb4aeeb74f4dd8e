"""The artifact: exact pack/unpack, deterministic bytes, round-trip logits, refusal of foreign/corrupt files."""

from __future__ import annotations

import io
import zlib

import pytest
import torch

from pgolf.artifact.model_file import encode_model, export_model, load_model
from pgolf.artifact.pack import pack, read_file, unpack
from pgolf.config import Config, ModelConfig, override
from pgolf.errors import PgolfError
from pgolf.model.gpt import GPT
from pgolf.quant.policy import classify
from pgolf.quant.rtn import dequantize, quantize_int8_percentile


def _model(seed=0):
    torch.manual_seed(seed)
    cfg = override(Config(), {"model.num_layers": 3, "model.model_dim": 64, "model.num_heads": 4,
                              "model.num_kv_heads": 2, "model.vocab_size": 200, "quant.keep_float_max_numel": 4096})
    m = GPT(cfg.model)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m, cfg


def test_pack_unpack_exact_all_dtypes():
    arrays = {"a": torch.randn(3, 5), "b": torch.randint(-128, 127, (7,), dtype=torch.int8),
              "c": torch.randn(4).to(torch.bfloat16), "d": torch.randn(2, 2).half(), "e": torch.tensor([True, False]),
              "f": torch.arange(6, dtype=torch.int64).view(2, 3), "empty": torch.zeros(0, 3)}
    blob = pack(arrays, {"k": [1, "x"]})
    got, meta = unpack(blob)
    assert meta == {"k": [1, "x"]} and set(got) == set(arrays)
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k
    assert pack(arrays, {"k": [1, "x"]}) == blob  # deterministic


def test_int8_percentile_matches_naive_rowwise():
    w = torch.randn(16, 300)
    w[3, 7] = 40.0  # an outlier that the percentile clip must cut
    q, s = quantize_int8_percentile(w, 99.99984)
    for r in range(16):
        row = w[r].abs().sort().values
        # torch.quantile's linear interpolation, written out (its position is computed in float32: a float64 position
        # moves the clip by an ulp and flips a value sitting on a .5 rounding boundary in ~12% of random draws)
        pos = torch.tensor(0.9999984) * (row.numel() - 1)
        lo, frac = int(pos), pos - int(pos)
        clip = row[lo] + frac * (row[min(lo + 1, row.numel() - 1)] - row[lo])
        scale = max(clip.item() / 127, 1 / 127)
        assert abs(s[r].item() - scale) <= 1e-3 * scale
        want = torch.clamp(torch.round(torch.clamp(w[r], -clip, clip) / scale), -127, 127)
        assert torch.equal(q[r].float(), want)
        deq = dequantize(q[r : r + 1], s[r : r + 1], torch.float32)[0]
        # rounding error ≤ s/2, plus 127 steps of the fp16 rounding of the stored scale (≤ 2^-11 relative)
        assert (deq - torch.clamp(w[r], -clip, clip)).abs().max() <= scale * (0.5 + 127 * 2**-11) + 1e-6


def test_policy_classes():
    cfg = Config().quant
    assert classify("blocks.0.attn_scale", torch.zeros(512), cfg, 9) == "fp32"
    assert classify("blocks.0.resid_mix", torch.zeros(2, 512), cfg, 9) == "fp32"
    assert classify("tok_emb.weight", torch.zeros(1024, 512), cfg, 9) == "int8"
    assert classify("small.weight", torch.zeros(256, 256), cfg, 9) == "fp16"
    assert classify("idx", torch.zeros(3, dtype=torch.int64), cfg, 9) == "exact"


def test_round_trip_logits_equal_in_memory_dequantized(tmp_path):
    m, cfg = _model()
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
    m, cfg = _model()
    assert encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[0] == encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[0]


@pytest.mark.parametrize("codec", ["zlib", "zstd", "lzma", "auto"])
def test_codecs_round_trip(tmp_path, codec):
    m, cfg = _model()
    cfg = override(cfg, {"artifact.codec": codec})
    info, _ = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    loaded, rinfo = load_model(tmp_path / "m.pga")
    assert rinfo["codec"] == info["codec"] and (codec == "auto" or info["codec"] == codec)


def test_pickle_artifact_is_refused(tmp_path):
    m, _ = _model()
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    for name, data in (("torch.pt", buf.getvalue()), ("zlib.ptz", zlib.compress(buf.getvalue()))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(PgolfError, match="not a pgolf artifact"):
            load_model(tmp_path / name)


def test_truncated_and_corrupt_artifacts_are_refused(tmp_path):
    m, cfg = _model()
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
    m, cfg = _model()
    bad = override(cfg, {"model.num_layers": 4})
    from pgolf.artifact.model_file import encode_model as enc
    from pgolf.artifact.pack import write_atomic

    blob, _, _ = enc(m.state_dict(), bad.model, bad.quant, bad.artifact)
    write_atomic(tmp_path / "bad.pga", blob)
    with pytest.raises(PgolfError, match="do not match the model config"):
        load_model(tmp_path / "bad.pga")
    assert isinstance(ModelConfig(), ModelConfig)
