"""Parity of pgolf's model with the seed submissions' own `train_gpt.py`, at tiny size, fp32, on CPU.

For each seed: import its script as a module (never run its main; `flash_attn_interface` is replaced by an SDPA shim
when FA3 is not importable), build its GPT and ours at the same tiny shape (our recipe through `recipes.tiny`, with
5 layers so the unpaired last decoder block is exercised), give the seed's model random weights everywhere (zero-init
projections included), copy them into ours through a name map (identity, except #1473's parameter banks, whose
slices map to blocks.{i}.attn.c_q/proj/c_k/c_v and mlp.fc/proj), and compare logits — from the seed's training
`forward` (captured at its cross-entropy) and from its eval path (`forward_logits` / `get_logits`) — and the loss.

RoPE: #198 and #1473 change their base with the runtime length (reference 1024); pgolf uses one explicit base, so at
each length T our model gets the seed's effective base at T (`ntk_rope_base`), and the report checks that each
recipe's base equals the seed's effective base at the recipe's training length.

Usage:
  python benchmarks/parity_seeds.py --seed-script /tmp/x/train_gpt.py --recipe pr198
  python benchmarks/parity_seeds.py --all [--mirror DIR] [--workdir /tmp/pgolf_parity_seeds]
The --all mode extracts each script from a local mirror of openai/parameter-golf (refs/pull/N/head; HEAD for the
baseline) into --workdir (outside the repository; nothing is vendored).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records_mirror import show_to  # noqa: E402  (benchmarks/ is not a package)

from pgolf.config import override  # noqa: E402
from pgolf.model.gpt import GPT  # noqa: E402
from pgolf.model.layers import ntk_rope_base  # noqa: E402
from pgolf.model.layersets import parse_layers, rescale_layers  # noqa: E402
from pgolf.recipes import get_recipe, tiny  # noqa: E402

MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")
SEEDS = {  # recipe → (git ref, path of train_gpt.py), SPEC_SEEDS.md "Sources"
    "baseline": ("HEAD", "train_gpt.py"),
    "pr198": ("refs/pull/198/head",
              "records/track_10min_16mb/2026-03-20_11L_Int6_MLP3x_WD04_SmearBigram2k_1.1318/train_gpt.py"),
    "pr295": ("refs/pull/295/head",
              "records/track_10min_16mb/2026-03-20_QAT_Int5Int6_BigramHash_Backout_SWA50/train_gpt.py"),
    "pr443": ("refs/pull/443/head", "records/track_10min_16mb/2026-03-22_BigramContext_MixedQuant_SWA/train_gpt.py"),
    "pr601": ("refs/pull/601/head",
              "records/track_non_record_16mb/2026-03-24_LateQAT_VR_GA_FullGPTQ_anantdgoel/train_gpt.py"),
    "pr1473": ("refs/pull/1473/head",
               "records/track_10min_16mb/2026-04-08_11L_FullGPTQ_XSA11_BigramHash3072/train_gpt.py"),
}
NTK_SEEDS = {"pr198", "pr1473"}  # Rotary(train_seq_len=1024) hard-coded: the base depends on the runtime length
PARITY_LAYERS = 5
TOL = 1e-4


# ---------------------------------------------------------------------------------------------------------------
# Loading a seed script
# ---------------------------------------------------------------------------------------------------------------

def _sdpa_flash_shim(q, k, v, causal=True, **_):
    """flash_attn_func stand-in: (B, T, H, D) layout, native GQA, via SDPA."""
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal,
                                       enable_gqa=k.size(2) != q.size(2))
    return y.transpose(1, 2)


def load_seed_module(path: Path, name: str) -> types.ModuleType:
    shim = False
    try:
        import flash_attn_interface  # noqa: F401
    except (ImportError, OSError):
        sys.modules["flash_attn_interface"] = types.SimpleNamespace(flash_attn_func=_sdpa_flash_shim)
        shim = True
    try:
        spec = importlib.util.spec_from_file_location(f"seed_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # module level only: every script guards main() with __name__ == "__main__"
    finally:  # the shim is for the seed's import only: nothing else in the process may mistake it for FA3
        if shim:
            sys.modules.pop("flash_attn_interface", None)
    return mod


def extract_from_mirror(mirror: Path, workdir: Path) -> dict[str, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (ref, path) in SEEDS.items():
        out[name] = show_to(mirror, f"{ref}:{path}", workdir / f"{name}_train_gpt.py")
    return out


def mirror_commit(mirror: Path, name: str) -> str:
    ref = SEEDS[name][0]
    r = subprocess.run(["git", "-C", str(mirror), "rev-parse", ref], capture_output=True, text=True)
    return r.stdout.strip()[:8] if r.returncode == 0 else "?"


# ---------------------------------------------------------------------------------------------------------------
# The tiny shape, the seed's constructor for it, and the name map
# ---------------------------------------------------------------------------------------------------------------

def parity_config(recipe: str):
    """Our recipe at tiny width (recipes.tiny) and PARITY_LAYERS layers, layer sets rescaled from full depth."""
    full = get_recipe(recipe).build()
    cfg = tiny(full)
    m, L = full.model, PARITY_LAYERS
    ch = {"model.num_layers": L, "model.attention_kernel": "sdpa"}
    if m.xsa is not None:
        ch["model.xsa.layers"] = rescale_layers(m.xsa.layers, m.num_layers, L)
    if m.value_embed is not None:
        ch["model.value_embed.layers"] = rescale_layers(m.value_embed.layers, m.num_layers, L)
    return override(cfg, ch), full


def _last_n(spec: str, L: int) -> int:
    layers = parse_layers(spec, L)
    if layers != tuple(range(L - len(layers), L)):
        raise ValueError(f"seed scripts only express XSA on the last N layers, not {spec!r}")
    return len(layers)


def build_seed_model(recipe: str, mod, m, train_seq_len: int):
    """The seed's own GPT for our tiny model config `m`, with the seed's own knob names."""
    common = dict(vocab_size=m.vocab_size, num_layers=m.num_layers, model_dim=m.model_dim, num_heads=m.num_heads,
                  num_kv_heads=m.num_kv_heads, mlp_mult=int(m.mlp_mult) if m.mlp_mult.is_integer() else m.mlp_mult,
                  tie_embeddings=m.tie_embeddings,
                  tied_embed_init_std=m.tied_embed_init_std, logit_softcap=m.logit_softcap, rope_base=10000.0,
                  qk_gain_init=m.qk_gain_init)
    bh = m.bigram_hash
    if recipe == "baseline":
        return mod.GPT(**common)
    if recipe == "pr198":
        return mod.GPT(**common, mtp_num_heads=0, bigram_vocab_size=bh.buckets, bigram_dim=bh.dim)
    if recipe == "pr295":
        return mod.GPT(**common, train_seq_len=train_seq_len, smear_enabled=True, backout_enabled=True,
                       backout_init=m.backout.init, bigram_vocab_size=bh.buckets, bigram_dim=bh.dim)
    if recipe == "pr443":
        return mod.GPT(**common, bigram_vocab_size=bh.buckets, bigram_dim=bh.dim,
                       xsa_last_n=_last_n(m.xsa.layers, m.num_layers) if m.xsa else 0, rope_dims=m.rope_dims,
                       ln_scale=m.ln_scale)
    if recipe == "pr601":
        return mod.GPT(**common, smear_gate=True, bigram_buckets=bh.buckets, bigram_dim=bh.dim, ortho_init=True,
                       gated_attention=m.attn_gate is not None, value_residual=m.value_residual is not None,
                       xsa_layers=_last_n(m.xsa.layers, m.num_layers), partial_rope_dims=m.rope_dims,
                       ln_scale=m.ln_scale)
    if recipe == "pr1473":
        ve = m.value_embed
        return mod.GPT(**common, bigram_vocab_size=bh.buckets, bigram_dim=bh.dim,
                       xsa_last_n=_last_n(m.xsa.layers, m.num_layers), rope_dims=m.rope_dims, ln_scale=m.ln_scale,
                       ve_enabled=True, ve_dim=ve.dim,
                       ve_layers=",".join(str(i) for i in parse_layers(ve.layers, m.num_layers)))
    raise KeyError(recipe)


def seed_to_pgolf_state(sd: dict[str, torch.Tensor], num_layers: int) -> dict[str, torch.Tensor]:
    """The name map: identity, except #1473's banks → per-layer matrices (qo: W_q then W_o; kv: W_k then W_v)."""
    n, out = num_layers, {}
    per_layer = {"qo_bank": ("attn.c_q", "attn.proj"), "kv_bank": ("attn.c_k", "attn.c_v"),
                 "mlp_up_bank": ("mlp.fc",), "mlp_down_bank": ("mlp.proj",)}
    for name, t in sd.items():
        if name not in per_layer:
            out[name] = t
            continue
        for j, sub in enumerate(per_layer[name]):
            for i in range(n):
                out[f"blocks.{i}.{sub}.weight"] = t[j * n + i]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------

class _CECapture(types.SimpleNamespace):
    """Stands in for the seed module's `F`: records the logits its training forward feeds to cross_entropy."""

    def __init__(self):
        super().__init__(captured=[])

    def __getattr__(self, name):
        return getattr(F, name)

    def cross_entropy(self, logits, *a, **kw):
        self.captured.append(logits.detach())
        return F.cross_entropy(logits, *a, **kw)


@torch.no_grad()
def compare(recipe: str, script: Path, lengths: tuple[int, ...] = (), seed: int = 0) -> list[dict]:
    cfg, full = parity_config(recipe)
    mod = load_seed_module(script, recipe)
    torch.manual_seed(seed)
    theirs = build_seed_model(recipe, mod, cfg.model, full.train.seq_len).float().eval()
    for p in theirs.parameters():
        p.add_(0.1 * torch.randn_like(p))  # make every weight matter (zero-init projections included)
    state = seed_to_pgolf_state(theirs.state_dict(), cfg.model.num_layers)
    r = cfg.model.rope_dims or cfg.model.model_dim // cfg.model.num_heads
    rows = []
    for T in lengths or (64, full.train.seq_len):
        base_T = ntk_rope_base(10000.0, r, T) if recipe in NTK_SEEDS else 10000.0
        ours = GPT(override(cfg, {"model.rope_base": base_T}).model).float().eval()
        ours.load_state_dict(state, strict=True)
        B = 2 if T <= 256 else 1
        g = torch.Generator().manual_seed(seed + T)
        idx = torch.randint(0, cfg.model.vocab_size, (B, T), generator=g)
        idx[:, T // 3] = cfg.model.bos_id  # a document boundary inside the sequence
        tgt = torch.randint(0, cfg.model.vocab_size, (B, T), generator=g)
        cap, real_F = _CECapture(), mod.F
        mod.F = cap
        try:
            loss_theirs = theirs(idx, tgt)
        finally:
            mod.F = real_F
        train_logits = cap.captured[0].reshape(B, T, -1)
        eval_fn = getattr(theirs, "forward_logits", None) or getattr(theirs, "get_logits", None)
        eval_logits = eval_fn(idx) if eval_fn is not None else train_logits
        z = ours.logits(idx)
        d_train = (z - train_logits.float()).abs().max().item()
        d_eval = (z - eval_logits.float()).abs().max().item()
        d_loss = abs(ours(idx, tgt).item() - loss_theirs.item())
        rows.append({"recipe": recipe, "T": T, "B": B, "rope_base": round(base_T, 3),
                     "max_dlogit_train": d_train, "max_dlogit_eval": d_eval, "dloss": d_loss,
                     "ok": max(d_train, d_eval) <= TOL and d_loss <= TOL,
                     "params_tiny": sum(p.numel() for p in ours.parameters()),
                     "params_seed_tiny": sum(p.numel() for p in theirs.parameters())})
    return rows


def init_signature(t: torch.Tensor) -> str:
    """A seed-independent description of how a tensor was initialised (RNG draws differ; structure must not)."""
    t = t.detach().float()
    if not t.any():
        return "zero"
    rows = t.reshape(-1, t.shape[-1]) if t.ndim else t.reshape(1, 1)
    if t.ndim <= 2 and all((r == r[0]).all() for r in rows):
        return "const " + ",".join(f"{r[0].item():.6g}" for r in rows)
    if t.ndim == 2:
        w = t if t.shape[0] <= t.shape[1] else t.T
        gram = w @ w.T  # = g²·I exactly when the rows (or columns) are orthogonal with norm g
        g2 = gram.diagonal().mean()
        if (gram - g2 * torch.eye(gram.shape[0])).abs().max() < 1e-4 * g2:
            return f"orthogonal x{g2.sqrt().item():.6g}"
        sv = torch.linalg.svdvals(t)
        k = torch.arange(1, sv.numel() + 1, dtype=sv.dtype)
        if torch.allclose(sv / sv[0], k ** -0.5, rtol=1e-3):
            return "spectral S1/sqrt(k)"
    return f"random std~{float(f'{t.std().item():.1g}')}"


@torch.no_grad()
def compare_init(recipe: str, script: Path) -> list[tuple[str, str, str]]:
    """Full-size init structure, seed vs pgolf, tensor by tensor → [(name, seed, ours)] mismatches (empty = same)."""
    full = get_recipe(recipe).build()
    mod = load_seed_module(script, recipe)
    torch.manual_seed(0)
    theirs = seed_to_pgolf_state(build_seed_model(recipe, mod, full.model, full.train.seq_len).state_dict(),
                                 full.model.num_layers)
    ours = GPT(override(full, {"model.attention_kernel": "sdpa"}).model).state_dict()
    assert set(theirs) == set(ours), set(theirs) ^ set(ours)
    out = []
    for name in sorted(ours):
        a, b = init_signature(theirs[name]), init_signature(ours[name])
        out.append((name, a, b))
    return out


def recipe_base_check(recipe: str) -> tuple[float, float]:
    """(the recipe's rope_base, the seed's effective base at the recipe's training length)."""
    full = get_recipe(recipe).build()
    r = full.model.rope_dims or full.model.model_dim // full.model.num_heads
    want = ntk_rope_base(10000.0, r, full.train.seq_len) if recipe in NTK_SEEDS else 10000.0
    return full.model.rope_base, want


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed-script", type=Path, help="a seed's train_gpt.py")
    ap.add_argument("--recipe", choices=sorted(SEEDS), help="the pgolf recipe it corresponds to")
    ap.add_argument("--all", action="store_true", help="extract all six scripts from --mirror and compare each")
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pgolf_parity_seeds"))
    ap.add_argument("--lengths", type=int, nargs="*", default=[], help="sequence lengths (default: 64 and the "
                    "recipe's train length)")
    ap.add_argument("--init", action="store_true", help="also compare the full-size initialisation structure "
                    "(zero / orthogonal×gain / constant / spectral / random std), tensor by tensor")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.all:
        scripts = extract_from_mirror(args.mirror, args.workdir)
    elif args.seed_script and args.recipe:
        scripts = {args.recipe: args.seed_script}
    else:
        ap.error("give --seed-script PATH --recipe NAME, or --all")
    rows = []
    for name, path in scripts.items():
        for row in compare(name, path, tuple(args.lengths)):
            row["recipe_rope_base"], row["seed_effective_base_at_train_len"] = recipe_base_check(name)
            row["commit"] = mirror_commit(args.mirror, name) if args.all else "-"
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'recipe':<9} {'commit':<9} {'T':>5} {'B':>2} {'rope base':>10} {'max|Δlogit| train':>18} "
              f"{'max|Δlogit| eval':>17} {'|Δloss|':>9} {'params':>8}  ok")
        for r in rows:
            print(f"{r['recipe']:<9} {r['commit']:<9} {r['T']:>5} {r['B']:>2} {r['rope_base']:>10.1f} "
                  f"{r['max_dlogit_train']:>18.2e} {r['max_dlogit_eval']:>17.2e} {r['dloss']:>9.2e} "
                  f"{r['params_tiny']:>8,}  {'yes' if r['ok'] else 'NO'}")
        seen = set()
        for r in rows:
            if r["recipe"] not in seen:
                seen.add(r["recipe"])
                print(f"{r['recipe']}: recipe rope_base {r['recipe_rope_base']:.3f} vs seed's effective base at its "
                      f"training length {r['seed_effective_base_at_train_len']:.3f}")
    init_ok = True
    if args.init:
        print("\nfull-size init structure, seed vs pgolf (one line per distinct pattern; block index → {i}):")
        for name, path in scripts.items():
            rows_i = compare_init(name, path)
            pats = {}
            for tensor, a, b in rows_i:
                key = (re.sub(r"blocks\.\d+\.", "blocks.{i}.", tensor), a, b)
                pats[key] = pats.get(key, 0) + 1
            bad = [k for k in pats if k[1] != k[2]]
            init_ok &= not bad
            print(f"{name}: {len(rows_i)} tensors, {'identical structure' if not bad else f'{len(bad)} MISMATCHES'}")
            for (tensor, a, b), n in sorted(pats.items()):
                flag = "" if a == b else "   <-- MISMATCH"
                print(f"    {tensor:<34} x{n:<3} seed: {a:<28} pgolf: {b}{flag}")
    bases_ok = all(abs(r["recipe_rope_base"] - r["seed_effective_base_at_train_len"]) < 1e-9 for r in rows)
    ok = all(r["ok"] and r["params_tiny"] == r["params_seed_tiny"] for r in rows) and bases_ok and init_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
