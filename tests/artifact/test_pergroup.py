"""Per-group compression (pgolf.artifact.pergroup): the similarity sort against a plain loop, exact round trips of
every layout, the smallest layout × codec kept per group, lrzip reported when its binary is missing, and refusal
of corrupt containers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgolf.artifact import pergroup as pg
from pgolf.artifact.model_file import encode_model, export_model, int_bits, load_model
from pgolf.artifact.size import breakdown
from pgolf.config import Config, PerGroupConfig, override
from pgolf.errors import PgolfError
from pgolf.model.gpt import GPT
from pgolf.quant.pipeline import quantize_model_state

THREE = PerGroupConfig(codecs=("brotli", "lzma", "zlib"))


def _model(pergroup=THREE):
    torch.manual_seed(0)
    cfg = override(Config(), {"model.num_layers": 2, "model.model_dim": 64, "model.num_heads": 4,
                              "model.num_kv_heads": 2, "model.vocab_size": 128, "quant.keep_float_max_numel": 2048,
                              "quant.policy": "pr1473", "artifact.storage": "int8", "artifact.codec": "lzma",
                              "artifact.pergroup": pergroup})
    m = GPT(cfg.model)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m, cfg


def test_simsort_is_the_greedy_nearest_neighbour_order():
    rng = np.random.default_rng(0)
    m = rng.integers(-8, 8, (40, 6)).astype(np.int8)
    order, left = [0], set(range(1, 40))
    while left:
        cur = m[order[-1]].astype(int)
        best = min(left, key=lambda r: (int(np.abs(m[r].astype(int) - cur).sum()), r))
        order.append(best)
        left.remove(best)
    assert pg.simsort(m).tolist() == order


@pytest.mark.parametrize("layout", pg.LAYOUTS)
def test_every_layout_round_trips(layout):
    rng = np.random.default_rng(1)
    arrays = {"blocks.0.mlp.fc.weight.q": torch.from_numpy(rng.integers(-31, 32, (12, 5)).astype(np.int8)),
              "blocks.1.mlp.fc.weight.q": torch.from_numpy(rng.integers(-31, 32, (12, 5)).astype(np.int8)),
              "tok_emb.weight.q": torch.from_numpy(rng.integers(-63, 64, (9, 4)).astype(np.int8)),
              "blocks.0.mlp.fc.weight.scale": torch.rand(12).half(), "skip": torch.rand(3)}
    bits = {k: 6 for k in arrays if k.endswith(".q")}
    cfg = PerGroupConfig(codecs=("zlib",))
    orig = pg.LAYOUTS
    try:
        pg.LAYOUTS = (layout,)
        blob, info = pg.encode_pergroup(arrays, {"x": 1}, bits, "int8", "zlib", cfg)
    finally:
        pg.LAYOUTS = orig
    assert info["groups"]["mlp.fc.weight.q"]["layout"] == layout
    got, meta = pg.decode_pergroup(blob)
    assert meta == {"x": 1} and sorted(got) == sorted(arrays)
    assert all(torch.equal(got[k], v) for k, v in arrays.items())


def test_each_group_keeps_its_smallest_layout_and_codec():
    m, cfg = _model()
    tensors_info = encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[1]["pergroup"]
    tensors, qmeta = quantize_model_state(m.state_dict(), cfg.quant, cfg.model.num_layers)
    bits = int_bits(qmeta)
    for key, g in tensors_info["groups"].items():
        names = sorted((n for n in tensors if n in bits and pg.group_key(n)[0] == key), key=lambda n: pg.group_key(n)[1])
        members = [tensors[n].numpy() for n in names]
        sizes = [len(pg._compress(raw, c)) for lay in pg.LAYOUTS for c in ("brotli", "lzma", "zlib")
                 if (raw := pg.layout_bytes(members, lay, 16_384)) is not None]
        assert g["bytes"] == min(sizes)


def test_model_round_trip_through_a_pergroup_file(tmp_path):
    m, cfg = _model()
    info, deq = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    assert info["codec"] == "pergroup"
    ref = GPT(cfg.model)
    ref.load_state_dict(deq)
    loaded, rinfo = load_model(tmp_path / "m.pga")
    idx = torch.randint(0, 128, (2, 16))
    assert torch.equal(loaded.logits(idx), ref.logits(idx)) and rinfo["file_bytes"] == info["model_bytes"]
    assert breakdown(tmp_path / "m.pga")["codec"] == "pergroup"


def test_missing_lrzip_is_reported_not_silently_dropped(monkeypatch):
    monkeypatch.setattr(pg.shutil, "which", lambda name: None)
    m, cfg = _model(PerGroupConfig(codecs=("lrzip", "zlib")))
    assert encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)[1]["pergroup"]["skipped"] == ["lrzip"]
    with pytest.raises(PgolfError, match="lrzip"):
        pg._lrzip(b"x", False)
    m, cfg = _model(PerGroupConfig(codecs=("lrzip",)))
    with pytest.raises(PgolfError, match="none of them is installed"):
        encode_model(m.state_dict(), cfg.model, cfg.quant, cfg.artifact)


def test_corrupt_containers_are_one_line_errors(tmp_path):
    m, cfg = _model()
    info, _ = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    data = (tmp_path / "m.pga").read_bytes()
    for bad in (data[:-50], data[:12], data[:4] + b"XXXX" + data[8:]):
        (tmp_path / "b.pga").write_bytes(bad)
        with pytest.raises(PgolfError):
            load_model(tmp_path / "b.pga")


def test_pergroup_with_lqer_factors_exports_and_round_trips(tmp_path):
    """pr1855/pr2135 ship LQER factors inside per-group files: the factors' cost is measured with the block's codec
    (a per-group file has no single codec) and the artifact decodes to the exported weights."""
    m, cfg = _model()
    cfg = override(cfg, {"quant.lqer": {"rank": 2, "top_k": 2, "a_bits": 2, "b_bits": 4, "b_group": 16}})
    info, deq = export_model(m, cfg.model, cfg.quant, cfg.artifact, tmp_path / "m.pga")
    assert info["codec"] == "pergroup" and info["lqer"]["compressed_bytes"] > 0
    assert any(k.endswith("lqer_a") for k in info["pergroup"]["groups"])
    ref = GPT(cfg.model)
    ref.load_state_dict(deq)
    loaded, _ = load_model(tmp_path / "m.pga")
    idx = torch.randint(0, 128, (2, 16))
    assert torch.equal(loaded.logits(idx), ref.logits(idx))
