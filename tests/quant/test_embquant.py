"""GPTQ on the tied embedding (#1394) and the int7-embedding SDClip table `pr1855` (#1586/#1855).

References: the embedding's Hessian against XᵀX of the LM head's inputs recomputed here (and those inputs checked
to be what the logits are made of); with the switch off the Hessians are exactly the old ones; GPTQ lowers the
LM-head output error ‖(E − Ê)Xᵀ‖ below RTN's on the same grid; the artifact round trip is exact; the pr1855 table
covers a full-size pr1473-shaped model with the published (bits, k)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgolf.artifact.model_file import encode_model, load_artifact
from pgolf.config import Config, override, validate
from pgolf.data.shards import load_split
from pgolf.errors import PgolfError
from pgolf.model.gpt import GPT
from pgolf.quant.calibrate import collect_hessians
from pgolf.quant.pipeline import quantize_model_state
from pgolf.quant.policy import dequantize_state_dict, policy_for, spec_of
from pgolf.quant.rtn import dequantize, quantize


@pytest.fixture(scope="module")
def trained(shard_dir, tokenizer_path):
    from pgolf.recipes import get_recipe

    cfg = override(get_recipe("tiny").build(), {
        "model.vocab_size": 512, "model.num_layers": 2, "quant.policy": "pr1855",
        "quant.keep_float_max_numel": 4096, "quant.gptq.block_size": 32, "quant.gptq.embeddings": True})
    torch.manual_seed(0)
    model = GPT(cfg.model)
    train = torch.from_numpy(np.asarray(load_split(shard_dir, "train", 512)[:40_000].astype(np.int64)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    T, B = 64, 8
    for step in range(30):
        starts = torch.randint(0, train.numel() - T - 1, (B,), generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        model(torch.stack([train[s:s + T] for s in starts]), torch.stack([train[s + 1:s + T + 1] for s in starts]))\
            .backward()
        opt.step()
    calib = [torch.stack([train[s:s + T] for s in range(i * 4096, i * 4096 + 8 * T, T)]) for i in range(3)]
    return cfg, model, calib


def lm_inputs(model, calib):
    with torch.no_grad():
        return torch.cat([model.hidden(b).reshape(-1, model.cfg.model_dim) for b in calib]).float()


def test_embedding_hessian_is_lm_head_inputs_and_off_is_unchanged(trained):
    cfg, model, calib = trained
    H_off = collect_hessians(model, calib)
    H_on = collect_hessians(model, calib, embeddings=True)
    assert "tok_emb.weight" not in H_off and set(H_on) == set(H_off) | {"tok_emb.weight"}
    assert all(torch.equal(H_on[k], H_off[k]) for k in H_off)  # the other Hessians: the same bits
    X = lm_inputs(model, calib)
    with torch.no_grad():  # X really is what the tied LM head multiplies: softcap(X Eᵀ) = the model's logits
        z = X @ model.tok_emb.weight.T
        c = cfg.model.logit_softcap
        ref = torch.cat([model.logits(b).reshape(-1, z.shape[1]) for b in calib])
    torch.testing.assert_close(c * torch.tanh(z / c), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(H_on["tok_emb.weight"], X.T @ X / X.shape[0], rtol=1e-4, atol=1e-6)


def test_untied_embeddings_are_refused(trained):
    cfg, model, calib = trained
    with pytest.raises(PgolfError, match="quant.gptq.embeddings"):
        validate(override(cfg, {"model.tie_embeddings": False}))
    untied = GPT(override(cfg, {"model.tie_embeddings": False}).model)
    with pytest.raises(PgolfError, match="not tied"):
        collect_hessians(untied, calib[:1], embeddings=True)


def test_gptq_embedding_beats_rtn_on_lm_head_output(trained):
    cfg, model, calib = trained
    sd = model.state_dict()
    H_on = collect_hessians(model, calib, embeddings=True)
    H_off = {k: v for k, v in H_on.items() if k != "tok_emb.weight"}
    t_on, m_on = quantize_model_state(sd, cfg.quant, cfg.model.num_layers, H_on)
    t_off, m_off = quantize_model_state(sd, cfg.quant, cfg.model.num_layers, H_off)
    assert (m_on["tok_emb.weight"]["method"], m_off["tok_emb.weight"]["method"]) == ("gptq", "sdclip")
    assert m_on["tok_emb.weight"]["bits"] == 7
    # off: the embedding is exactly the rule's RTN, and nothing else moved
    rule = policy_for(cfg.quant, cfg.model.num_layers).rule_for("tok_emb.weight", sd["tok_emb.weight"])
    q_rtn, s_rtn = quantize(sd["tok_emb.weight"], spec_of(rule))
    assert torch.equal(t_off["tok_emb.weight"], q_rtn) and torch.equal(t_off["tok_emb.weight.scale"], s_rtn)
    assert all(torch.equal(t_on[k], t_off[k]) for k in t_on if not k.startswith("tok_emb."))
    assert torch.equal(t_on["tok_emb.weight.scale"], s_rtn)  # same SDClip grid: the gain is the error feedback
    assert int(t_on["tok_emb.weight"].abs().max()) <= 63  # int7 levels
    X = lm_inputs(model, calib)
    E = sd["tok_emb.weight"].float()

    def head_err(t):
        return float(((E - dequantize(t["tok_emb.weight"], t["tok_emb.weight.scale"], torch.float32)) @ X.T)
                     .square().mean())

    assert head_err(t_on) < 0.9 * head_err(t_off)


def test_gptq_embedding_artifact_round_trip_is_exact(trained, tmp_path):
    cfg, model, calib = trained
    H = collect_hessians(model, calib, embeddings=True)
    blob, info, deq = encode_model(model.state_dict(), cfg.model, cfg.quant, cfg.artifact, H)
    (tmp_path / "m.pgolf").write_bytes(blob)
    mcfg, state, _ = load_artifact(tmp_path / "m.pgolf")
    assert set(state) == set(deq) and all(torch.equal(state[k], deq[k]) for k in deq)
    tensors, meta = quantize_model_state(model.state_dict(), cfg.quant, cfg.model.num_layers, H)
    assert torch.equal(dequantize_state_dict(tensors, meta)["tok_emb.weight"], state["tok_emb.weight"])


def test_pr1855_table_covers_full_size_pr1473_model():
    from pgolf.recipes import get_recipe

    cfg = override(get_recipe("pr1473").build(), {"quant.policy": "pr1855"})
    with torch.device("meta"):
        sd = GPT(cfg.model).state_dict()
    pol = policy_for(cfg.quant, cfg.model.num_layers)
    pol.check_covers(sd)
    big = {n for n, t in sd.items() if t.numel() > 65_536}
    assert {"tok_emb.weight", "blocks.0.mlp.fc.weight", "blocks.10.attn.c_q.weight"} <= big
    for n, t in sd.items():
        r = pol.rule_for(n, t)
        if n not in big:
            assert r.action in ("fp16", "fp32"), n
            continue
        assert (r.action, r.clip, r.floor, r.neg_extra) == ("int", "sdclip", False, False), n
        want = ((7, 14.0) if n == "tok_emb.weight" else (6, 11.5) if ".mlp." in n else (6, 13.0) if ".attn." in n
                else (6, 12.85))
        assert (r.bits, r.clip_value) == want, n
    assert any(".mlp." not in n and ".attn." not in n and n != "tok_emb.weight" for n in big)  # fallback used


def test_int7_sdclip_grid():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 512, generator=g) * 0.02
    w[3, 5] = 1.0  # beyond k·std (a z of ≤ √511 ≈ 22.6 is possible in 512 columns): clipped
    rule = policy_for(override(Config(), {"quant.policy": "pr1855"}).quant, 9).rule_for("tok_emb.weight",
                                                                              torch.empty(8192, 512, device="meta"))
    q, s = quantize(w, spec_of(rule))
    ref = (14.0 * w.std(dim=1) / 63).to(torch.float16)  # the record's sample std
    assert torch.equal(s, ref)
    assert int(q.abs().max()) == 63 and int(q[3, 5]) == 63
    naive = torch.clamp(torch.round(w / ref.float()[:, None]), -63, 63)
    assert (q.float() != naive).float().mean() < 1e-3  # w clipped at ±k·std first: at most a rounding tie apart
