"""Parity of pgolf's pr1855 / pr2135 model with the records' own `train_gpt.py`, at tiny size, fp32, on CPU.

Extends benchmarks/parity_seeds.py (same method) to the frontier: the record's script is extracted at run time from
a local mirror of openai/parameter-golf into --workdir (outside the repository; nothing is vendored) and imported as a
module (its main never runs). Its module-level GPU imports are stood in for: `triton` by an inert shim (the Triton
kernels are only defined, never launched: the model runs in eval mode, where the record's MLP takes its eager path,
and with FUSED_CE_ENABLED=0 semantics), `flash_attn_interface` by SDPA (dense causal, and varlen per segment).

For each record: its GPT at our tiny shape (recipes.tiny, 5 layers), random weights everywhere, copied into pgolf's
GPT through a name map (banks → per-layer c_q/proj/c_k/c_v/mlp.fc/mlp.proj; smear_gate.weight → smear.gate_w;
smear_lambda → smear.lam; the rest by name), then max|Δlogit| and |Δloss| with looping off (before the switch) and
on (after it), for the dense path and for the VarLen path (the packed row with cu_seqlens at BOS). #2135's SmearGate
BOS fix is read from SMEAR_GATE_BOS_FIX (unset in its run, as here: off); its AsymLogit caps get the same random
perturbation as every weight, so the eval path's two caps differ.

Usage:  PYTHONPATH=src python benchmarks/parity_frontier.py [--records pr1855 pr2135] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parity_seeds import MIRROR, _CECapture  # noqa: E402  (benchmarks/ is not a package)
from records_mirror import show_to  # noqa: E402  (benchmarks/ is not a package)

from pgolf.config import override  # noqa: E402
from pgolf.data.packed import cu_seqlens_of  # noqa: E402
from pgolf.model.gpt import GPT  # noqa: E402
from pgolf.quant.gptq import gptq_quantize  # noqa: E402
from pgolf.quant.policy import policy_for, spec_of  # noqa: E402
from pgolf.recipes import get_recipe, tiny  # noqa: E402

RECORDS = {
    "pr1855": ("main", "records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611/"
                       "train_gpt.py"),
    "pr2135": ("refs/pull/2135/head", "records/track_10min_16mb/2026-05-01_SP8192_PR2130Base_Calib32/train_gpt.py"),
}
LAYERS, TOL = 5, 1e-5


class _Inert:
    """Any attribute, any call: decorators return the function they wrap (triton.jit, triton.autotune(...))."""

    def __getattr__(self, name):
        return _Inert()

    def __call__(self, *a, **kw):
        if len(a) == 1 and callable(a[0]) and not kw:
            return a[0]
        return _Inert()


def _sdpa(q, k, v, causal=True, **_):
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal,
                                       enable_gqa=k.size(2) != q.size(2))
    return y.transpose(1, 2)


def _sdpa_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, causal=True, **_):
    """(N, H, D) per segment, each one plain causal attention (an independent stand-in for FA3 varlen)."""
    out = torch.zeros_like(q)
    cu = cu_seqlens_q.tolist()
    for s, e in zip(cu[:-1], cu[1:]):
        if e > s:
            out[s:e] = _sdpa(q[None, s:e], k[None, s:e], v[None, s:e])[0]
    return out


def load_record(path: Path, name: str, real_kernels: bool = False, fa3: bool = False) -> types.ModuleType:
    """Import a record's script as module `record_{name}` (its main never runs), with stand-ins only where the real
    thing cannot run: inert `triton` and torch.compile as identity unless `real_kernels` (eager fp32 parity; the
    Triton kernels are then never launched), per-segment SDPA for `flash_attn_interface` unless `fa3`, and an empty
    `sentencepiece` when it is not installed (imported at the script's top, used only by its data code)."""
    import importlib.util

    shims: dict = {}
    if not real_kernels:
        shims.update({m: _Inert() for m in ("triton", "triton.language", "triton.tools",
                                            "triton.tools.tensor_descriptor")})
    if importlib.util.find_spec("sentencepiece") is None:
        shims["sentencepiece"] = types.SimpleNamespace()
        print(f"{name}: sentencepiece not installed: a stand-in for the record's unused import", flush=True)
    if not fa3:
        shims["flash_attn_interface"] = types.SimpleNamespace(flash_attn_func=_sdpa,
                                                              flash_attn_varlen_func=_sdpa_varlen)
    saved = {m: sys.modules.get(m) for m in shims}
    sys.modules.update(shims)
    compile_ = torch.compile
    if not real_kernels:
        torch.compile = lambda fn=None, **kw: fn if fn is not None else (lambda f: f)
    try:
        spec = importlib.util.spec_from_file_location(f"record_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        torch.compile = compile_
        for m, v in saved.items():
            if v is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = v
    return mod


def record_hparams(mod, cfg):
    """The record's Hyperparameters (its logged run's values), at our tiny shape."""
    h = types.SimpleNamespace(**{k: getattr(mod.Hyperparameters, k) for k in dir(mod.Hyperparameters)
                                 if not k.startswith("_")})
    m, r = cfg.model, cfg.model.recurrence
    h.__dict__.update(
        vocab_size=m.vocab_size, num_layers=m.num_layers, model_dim=m.model_dim, num_heads=m.num_heads,
        num_kv_heads=m.num_kv_heads, mlp_mult=m.mlp_mult, rope_dims=m.rope_dims, rope_base=m.rope_base,
        qk_gain_init=m.qk_gain_init, logit_softcap=m.logit_softcap, ln_scale=m.ln_scale, xsa_last_n=m.num_layers,
        num_loops=r.num_loops, loop_start=r.loop_start, loop_end=r.loop_end, skip_gates_enabled=True,
        parallel_start_layer=m.parallel_residual.start_layer, parallel_final_lane="mean", smear_gate_enabled=True,
        gate_window=m.smear_gate.window, sparse_attn_gate_enabled=True, sparse_attn_gate_scale=m.attn_gate.scale,
        gated_attn_enabled=False, attn_out_gate_enabled=False, rope_yarn=False, fused_ce_enabled=False,
        tie_embeddings=True, train_seq_len=cfg.train.seq_len, asym_logit_rescale=m.asym_logit is not None)
    # the logged run's export knobs (train_seed42.log of #1855 and #2135; the class defaults are the env fallbacks)
    h.__dict__.update(matrix_bits=6, embed_bits=7, matrix_clip_sigmas=12.85, embed_clip_sigmas=14.0,
                      mlp_clip_sigmas=11.5, attn_clip_sigmas=13.0)
    return h


def to_pgolf_state(sd: dict, L: int) -> dict:
    per_layer = {"qo_bank": ("attn.c_q", "attn.proj"), "kv_bank": ("attn.c_k", "attn.c_v"),
                 "mlp_up_bank": ("mlp.fc",), "mlp_down_bank": ("mlp.proj",)}
    out = {}
    for name, t in sd.items():
        if name in per_layer:
            for j, sub in enumerate(per_layer[name]):
                for i in range(L):
                    out[f"blocks.{i}.{sub}.weight"] = t[j * L + i]
        elif name == "smear_gate.weight":
            out["smear.gate_w"] = t.reshape(-1)
        elif name == "smear_lambda":
            out["smear.lam"] = t
        elif name in ("parallel_post_lambdas", "parallel_resid_lambdas"):
            out[name] = t.reshape(-1)
        else:
            out[name] = t
    return out


@torch.no_grad()
def compare(name: str, script: Path, seed: int = 0) -> list[dict]:
    cfg = tiny(get_recipe(name).build())
    cfg = override(cfg, {"model.num_layers": LAYERS, "model.attention_kernel": "sdpa",
                         "model.recurrence.loop_start": 1, "model.recurrence.loop_end": 2,
                         "model.parallel_residual.start_layer": 3, "model.varlen.kernel": "masked"})
    mod = load_record(script, name)
    mod.BOS_ID = cfg.model.bos_id  # set by the record's loader at run time
    torch.manual_seed(seed)
    theirs = mod.GPT(record_hparams(mod, cfg)).float().eval()
    for p in theirs.parameters():
        p.add_(0.1 * torch.randn_like(p))  # every weight matters (zero-init projections included)
    ours = GPT(cfg.model).float().eval()
    ours.load_state_dict(to_pgolf_state(theirs.state_dict(), LAYERS), strict=True)
    T, B, V = cfg.train.seq_len, 2, cfg.model.vocab_size
    g = torch.Generator().manual_seed(seed + 7)
    idx = torch.randint(2, V, (B, T), generator=g)
    idx[0, 0] = idx[0, 50] = idx[1, 100] = idx[1, 180] = cfg.model.bos_id  # document boundaries
    tgt = torch.randint(0, V, (B, T), generator=g)
    flat = idx.reshape(1, -1)
    cu = torch.from_numpy(cu_seqlens_of(flat[0].numpy(), cfg.model.bos_id, T, 64)[0])
    rows = []
    for looping in (False, True):
        theirs.looping_active = looping
        ours.set_looping(looping)
        for path in ("dense", "varlen"):
            kw_t = {} if path == "dense" else {"cu_seqlens": cu, "max_seqlen": T}
            x, y = (idx, tgt) if path == "dense" else (flat, tgt.reshape(1, -1))
            cap, real_F = _CECapture(), mod.F
            mod.F = cap
            try:
                loss_t = theirs(x, y, **kw_t)
            finally:
                mod.F = real_F
            z_train = cap.captured[0].reshape(*x.shape, -1)
            z_eval = theirs.forward_logits(x, **kw_t)
            z = ours.logits(idx, **({} if path == "dense" else {"cu_seqlens": cu, "max_seqlen": T})).reshape(
                *x.shape, -1)
            zt = ours.logits(idx, train=True, **({} if path == "dense" else {"cu_seqlens": cu, "max_seqlen": T}))
            loss_o = ours(idx, tgt, **({} if path == "dense" else {"cu_seqlens": cu, "max_seqlen": T}))
            d_train = (zt.reshape(*x.shape, -1) - z_train).abs().max().item()
            d_eval = (z - z_eval).abs().max().item()
            d_loss = abs(loss_o.item() - loss_t.item())
            rows.append({"record": name, "looping": looping, "path": path, "max_dlogit_train": d_train,
                         "max_dlogit_eval": d_eval, "dloss": d_loss,
                         "ok": max(d_train, d_eval, d_loss) <= TOL,
                         "params_tiny": sum(p.numel() for p in ours.parameters()),
                         "params_record_tiny": sum(p.numel() for p in theirs.parameters())})
    return rows


@torch.no_grad()
def compare_quant(name: str, script: Path, seed: int = 0) -> dict:
    """The record's `gptq_quantize_weight` (its clip sigmas and bit widths by name, as `gptq_mixed_quantize`
    picks them) vs pgolf's GPTQ under the recipe's quant policy, given the SAME Hessian per matrix (a random SPD
    one: X^T X of 4·in correlated rows): count of differing integer values and max |Δscale|."""
    cfg = tiny(get_recipe(name).build())
    cfg = override(cfg, {"model.num_layers": LAYERS, "model.recurrence.loop_start": 1,
                         "model.recurrence.loop_end": 2, "model.parallel_residual.start_layer": 3})
    mod = load_record(script, name)
    h = record_hparams(mod, cfg)
    torch.manual_seed(seed)
    theirs = mod.GPT(h).float()
    for p in theirs.parameters():
        p.add_(0.02 * torch.randn_like(p))
    state = to_pgolf_state(theirs.state_dict(), LAYERS)
    policy, g = policy_for(cfg.quant, LAYERS), torch.Generator().manual_seed(seed + 1)
    total = diff = 0
    max_ds = 0.0
    for key, w in sorted(state.items()):
        rule = policy.rule_for(key, w)
        if w.ndim != 2 or w.numel() <= 65536 * (128 / 512) ** 2 or rule is None or rule.action != "int":
            continue  # the record's passthrough (≤ 65,536 at full size; scaled by tiny's f²) and gates
        cols = w.shape[1]
        x = torch.randn(4 * cols, cols, generator=g) @ (torch.eye(cols) + 0.3 * torch.randn(cols, cols, generator=g))
        H = x.T @ x
        cs = (h.embed_clip_sigmas if "tok_emb" in key else h.mlp_clip_sigmas if ".mlp." in key
              else h.attn_clip_sigmas if ".attn." in key else h.matrix_clip_sigmas)
        bits = h.embed_bits if "tok_emb" in key else h.matrix_bits
        q_t, s_t = mod.gptq_quantize_weight(w, H, clip_sigmas=cs, clip_range=2 ** (bits - 1) - 1)
        q_o, s_o = gptq_quantize(w, H, spec_of(rule), cfg.quant.gptq)
        total += q_t.numel()
        diff += int((q_t != q_o).sum())
        max_ds = max(max_ds, (s_t.float() - s_o.float()).abs().max().item())
    return {"record": name, "int_values": total, "differing": diff, "max_dscale": max_ds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", nargs="*", default=sorted(RECORDS), choices=sorted(RECORDS))
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pgolf_parity_frontier"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows, quant = [], []
    for name in args.records:
        ref, path = RECORDS[name]
        dst = show_to(args.mirror, f"{ref}:{path}", args.workdir / f"{name}_train_gpt.py")
        rows += compare(name, dst)
        quant.append(compare_quant(name, dst))
    if args.json:
        print(json.dumps({"logits": rows, "quant": quant}, indent=2))
    else:
        print(f"{'record':<7} {'looping':<7} {'path':<6} {'max|Δlogit| train':>18} {'max|Δlogit| eval':>17} "
              f"{'|Δloss|':>9} {'params':>8}  ok")
        for r in rows:
            print(f"{r['record']:<7} {str(r['looping']):<7} {r['path']:<6} {r['max_dlogit_train']:>18.2e} "
                  f"{r['max_dlogit_eval']:>17.2e} {r['dloss']:>9.2e} {r['params_tiny']:>8,}  "
                  f"{'yes' if r['ok'] and r['params_tiny'] == r['params_record_tiny'] else 'NO'}")
        for q in quant:
            print(f"{q['record']}: GPTQ with the same Hessians: {q['differing']:,} of {q['int_values']:,} integer "
                  f"values differ, max |Δscale| {q['max_dscale']:.2e}")
    ok = all(r["ok"] and r["params_tiny"] == r["params_record_tiny"] for r in rows)
    return 0 if ok and all(q["differing"] == 0 for q in quant) else 1


if __name__ == "__main__":
    sys.exit(main())
