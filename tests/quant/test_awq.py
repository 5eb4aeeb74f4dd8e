"""AWQ-lite (#1908): the chosen group equals a naive saliency ranking; protected columns decode on the int8 grid and
the rest on the matrix's; a loud column group is quantized with lower layer-output error than plain GPTQ at the
same base bits; the artifact round trip (with LQER on top too) is exact and `artifact.size` counts the arrays."""

from __future__ import annotations

import pytest
import torch

from pgolf.artifact.model_file import encode_model, load_artifact
from pgolf.artifact.size import breakdown
from pgolf.config import AWQConfig, Config, GPTQConfig, QuantRule, override, validate
from pgolf.errors import PgolfError
from pgolf.model.gpt import GPT
from pgolf.quant.awq import column_mask, int_base, select
from pgolf.quant.calibrate import collect_hessians
from pgolf.quant.gptq import gptq_quantize
from pgolf.quant.policy import Policy, dequantize_state_dict
from pgolf.quant.rtn import IntSpec


def naive_best_groups(W, H, group):
    """Every aligned group's Σ_j √H_jj · (1/rows)Σ_i |W_ij|, by explicit loops, best first."""
    rows, cols = W.shape
    scores = []
    for g in range(cols // group):
        total = 0.0
        for j in range(g * group, (g + 1) * group):
            mean_abs = sum(abs(float(W[i, j])) for i in range(rows)) / rows
            total += float(H[j, j]) ** 0.5 * mean_abs
        scores.append((total, g * group))
    return sorted(scores, reverse=True)


def rand_case(rows, cols, seed):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(rows, cols, generator=g) * torch.rand(cols, generator=g)
    X = torch.randn(200, cols, generator=g) * (0.2 + 3 * torch.rand(cols, generator=g))
    return W, X.T @ X / 200


def test_selection_equals_naive_ranking():
    state = {f"m{i}.weight": None for i in range(3)}
    hess = {}
    for i, (r, c) in enumerate([(8, 256), (6, 192), (5, 130)]):  # 130: the partial last group is never chosen
        state[f"m{i}.weight"], hess[f"m{i}.weight"] = rand_case(r, c, i)
    state["wide.weight"], hess["wide.weight"] = rand_case(4, 128, 9)  # int8: already at awq bits, skipped
    pol = Policy("t", (QuantRule("wide.*", "int", bits=8), QuantRule("*", "int", bits=6)))
    naive = {n: naive_best_groups(state[n], hess[n], 64) for n in hess if n != "wide.weight"}
    got = select(state, hess, pol, AWQConfig(group=64, bits=8, top_k=1, scope="matrix"))
    assert got == {n: (v[0][1],) for n, v in naive.items()}
    got2 = select(state, hess, pol, AWQConfig(group=64, top_k=2, scope="matrix"))
    assert got2 == {n: tuple(sorted(s for _, s in v[:2])) for n, v in naive.items()}
    flat = sorted(((sc, n, s) for n, v in naive.items() for sc, s in v), reverse=True)
    got3 = select(state, hess, pol, AWQConfig(group=64, top_k=2, scope="model"))
    want: dict = {}
    for _, n, s in flat[:2]:
        want.setdefault(n, []).append(s)
    assert got3 == {n: tuple(sorted(v)) for n, v in want.items()}


def test_protected_columns_decode_on_the_int8_grid():
    g = torch.Generator().manual_seed(1)
    W = torch.randn(16, 192, generator=g)
    H = torch.diag(torch.rand(192, generator=g) + 0.1)  # diagonal H: no error feedback, GPTQ = RTN per column
    spec = IntSpec(4, "absmax", floor=False)
    mask = column_mask(192, (64,), 64)
    q, s, s_hi = gptq_quantize(W, H, spec, hi=(mask, IntSpec(8, "absmax", floor=False)))
    clip = W.abs().amax(dim=1)
    assert torch.equal(s, (clip / 7).to(torch.float16)) and torch.equal(s_hi, (clip / 127).to(torch.float16))
    assert int(q[:, mask].abs().max()) > 7 and int(q[:, mask].abs().max()) <= 127
    assert int(q[:, ~mask].abs().max()) <= 7
    err = (W - q.float() * torch.where(mask, s_hi.float()[:, None], s.float()[:, None])).abs()
    assert torch.all(err[:, mask] <= s_hi.float()[:, None] * 0.5001 + 1e-6)  # int8 resolution
    assert torch.all(err[:, ~mask] <= s.float()[:, None] * 0.5001 + 1e-6)
    assert err[:, mask].max() < 0.1 * err[:, ~mask].max()


def test_awq_beats_plain_gptq_on_a_loud_column_group():
    g = torch.Generator().manual_seed(0)
    d, n = 256, 3000
    A = torch.randn(d, d, generator=g) / d**0.5 + 0.5 * torch.ones(d, d) / d**0.5
    X = torch.randn(n, d, generator=g) @ A
    X[:, 128:192] *= 8.0  # one column group with large activations
    W = torch.randn(48, d, generator=g) * 0.1
    H = X.T @ X / n
    pol = Policy("t", (QuantRule("*", "int", bits=4, clip="absmax", floor=False),))
    starts = select({"w": W}, {"w": H}, pol, AWQConfig())["w"]
    assert starts == (128,)
    spec, cfg = IntSpec(4, "absmax", floor=False), GPTQConfig(block_size=32)
    q, s = gptq_quantize(W, H, spec, cfg)
    qa, sa, sh = gptq_quantize(W, H, spec, cfg, hi=(column_mask(d, starts, 64), IntSpec(8, "absmax", floor=False)))
    assert torch.equal(s, sa)  # the matrix keeps its grid; only the group changes precision
    mask = column_mask(d, starts, 64)
    deq = qa.float() * torch.where(mask, sh.float()[:, None], sa.float()[:, None])
    plain = float(((W - q.float() * s.float()[:, None]) @ X.T).square().mean())
    mixed = float(((W - deq) @ X.T).square().mean())
    assert mixed < 0.8 * plain


@pytest.fixture(scope="module")
def tiny_model():
    from pgolf.recipes import get_recipe

    cfg = override(get_recipe("tiny").build(), {
        "model.vocab_size": 512, "model.num_layers": 2, "quant.policy": "pr1855", "quant.keep_float_max_numel": 4096,
        "quant.gptq.block_size": 32, "quant.gptq.embeddings": True, "quant.awq.group": 64,
        "artifact.storage": "packed"})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    calib = [torch.randint(0, 512, (4, 64), generator=torch.Generator().manual_seed(i)) for i in range(2)]
    return cfg, model, collect_hessians(model, calib, embeddings=True)


@pytest.mark.parametrize("lqer", [False, True])
def test_awq_artifact_round_trip_and_size(tiny_model, tmp_path, lqer):
    cfg, model, H = tiny_model
    if lqer:
        cfg = override(cfg, {"quant.lqer.top_k": 2, "quant.lqer.rank": 2})
    blob, info, deq = encode_model(model.state_dict(), cfg.model, cfg.quant, cfg.artifact, H)
    (tmp_path / "m.pgolf").write_bytes(blob)
    _, state, _ = load_artifact(tmp_path / "m.pgolf")
    assert set(state) == set(deq) and all(torch.equal(state[k], deq[k]) for k in deq)
    from pgolf.artifact.pack import read_file

    arrays, meta, _ = read_file(tmp_path / "m.pgolf")
    protected = [n for n, i in meta["tensors"].items() if i.get("awq")]
    assert "tok_emb.weight" in protected and any(".mlp." in n for n in protected)  # every int<8 matrix (scope matrix)
    for n in protected:
        a = meta["tensors"][n]["awq"]
        assert a["bits"] == 8 and len(a["starts"]) == 1
        cols = torch.arange(a["starts"][0], a["starts"][0] + 64)
        assert torch.all(arrays[n][:, cols] == 0)  # the main array keeps its bits
        w = int_base(arrays, n, meta["tensors"][n])
        torch.testing.assert_close(w[:, cols], arrays[n + ".awq_q"].float() * arrays[n + ".awq_scale"].float()[:, None])
    if lqer:
        assert any(i.get("lqer") and i.get("awq") for i in meta["tensors"].values())
    b = breakdown(tmp_path / "m.pgolf")["groups"]["awq"]
    assert b["arrays"] == 2 * len(protected) and b["stored_bytes"] > 0 and b["compressed_bytes"] > 0
    bad = dict(arrays)
    bad[protected[0] + ".awq_q"] = bad[protected[0] + ".awq_q"][:, :32]
    with pytest.raises(ValueError, match="AWQ arrays"):
        dequantize_state_dict(bad, meta["tensors"])
    orphan = {**arrays, "x.awq_q": arrays[protected[0] + ".awq_q"]}
    with pytest.raises(ValueError, match="without a protected tensor"):
        dequantize_state_dict(orphan, meta["tensors"])


def test_awq_needs_gptq():
    with pytest.raises(PgolfError, match="quant.awq"):
        validate(override(Config(), {"quant.awq.bits": 8}))
    validate(override(Config(), {"quant.awq.bits": 8, "quant.gptq.block_size": 64}))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mixed_gptq_on_cuda_matches_cpu():
    W, H = rand_case(32, 192, 5)
    hi = (column_mask(192, (64,), 64), IntSpec(8, "sdclip", 12.85, floor=False))
    spec = IntSpec(6, "sdclip", 12.85, floor=False)
    q_cpu, s_cpu, h_cpu = gptq_quantize(W, H, spec, hi=hi)
    q_gpu, s_gpu, h_gpu = gptq_quantize(W, H, spec, device="cuda", hi=hi)
    assert q_gpu.device.type == "cpu" and torch.equal(s_gpu, s_cpu) and torch.equal(h_gpu, h_cpu)
    assert (q_gpu != q_cpu).float().mean() < 0.01
