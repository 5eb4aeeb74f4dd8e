"""Parity of pgolf's phased TTT (pgolf.eval.ttt_phased) with #1855's / #2135's own `eval_val_ttt_phased`, tiny, CPU.

The record's TTT functions (the phased loop, the global SGD phase, the document queue, the chunk window, the BPB
accumulator, its BatchedTTTLoRA) are cut out of its train_gpt.py, extracted at run time from a local mirror of
openai/parameter-golf into --workdir (nothing is vendored), and run unchanged. Both sides drive the same pgolf GPT
(fp32, CPU, random weights): the record through a `forward_ttt_train` that applies its adapters at its own points
(Q/K/V on the normed block input, O and MLP in parallel to the attention and MLP modules, the LM head before the
softcap) with forward hooks, and `base_model(x, y, cu_seqlens=…, max_seqlen=…)` for its global phase as the
record runs it (GLOBAL_TTT_RESPECT_DOC_BOUNDARIES=1: a step's rows as one flat row, its own _build_cu_seqlens at BOS,
segments ≤ T; the model's varlen attention on its exact masked path), or `base_model(x, y)` on rows of T with
--rows (=0; pgolf then runs phased.isolate_docs=false). pgolf's adapters take the record's initial A draws (the same global RNG seed,
drawn in the record's module order: lm_head, then Q, V, K, MLP, O per slot). The stream has a multiple of the batch
size in documents, so no short batch (whose fresh adapters would consume the RNG differently) occurs.
#2135 (--record 2135): no K adapter, one global phase, and the token n-gram tilt; its loop takes the hints
precomputed (pgolf's build_hints, which benchmarks/parity_tilt.py checks against the record's C helper; here order 2,
threshold 0.3 so that a random stream gets hints) and applies them with its own online_ngram_tilt.py (extracted too).

    python benchmarks/parity_ttt.py [--record 1855|2135] [--rows] [--mirror DIR] [--workdir /tmp/pgolf_parity_ttt]
Prints both val_loss / val_bpb and |Δbpb|; exit status 0 when |Δbpb| ≤ 1e-6.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pgolf.data.tokenizer import ByteLUT
from pgolf.eval.asym_logit import head_logits
from pgolf.eval.bpb import DeviceLUT
from pgolf.eval.config import LoRATTTConfig, NgramTiltConfig, PhasedTTTConfig, TTTConfig
from pgolf.eval.lora import LoRABank
from pgolf.eval.ngram_tilt import build_hints
from pgolf.eval.ttt_phased import TARGETS_1855, eval_ttt_phased
from pgolf.model.config import ModelConfig
from pgolf.model.features.varlen import VarlenConfig
from pgolf.model.gpt import GPT
from pgolf.runtime.dist import init_runtime

sys.path.insert(0, str(Path(__file__).resolve().parent))
import records_mirror  # noqa: E402  (benchmarks/ is not a package)

MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")
RECORDS = {"1855": ("main", "records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611"),
           "2135": ("refs/pull/2135/head", "records/track_10min_16mb/2026-05-01_SP8192_PR2130Base_Calib32")}
NAMES = ("_find_docs", "_build_ttt_global_batches", "_init_batch_counter", "_claim_next_batch",
         "_compute_chunk_window", "_accumulate_bpb", "_loss_bpb_from_sums", "_add_to_counter", "_init_int64_counter",
         "_select_ttt_doc_entries", "get_next_multiple_of_n", "_build_cu_seqlens", "train_val_ttt_global_sgd_distributed",
         "eval_val_ttt_phased", "BatchedLinearLoRA", "BatchedTTTLoRA")
V, D, L, T, S, C, RANK, ALPHA = 64, 32, 2, 32, 4, 8, 4, 8.0


def record_functions(mirror: Path, workdir: Path, record: str) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    ref, folder = RECORDS[record]

    def show(name: str) -> bytes:
        return records_mirror.show(mirror, f"{ref}:{folder}/{name}")

    src = show("train_gpt.py")
    (workdir / f"train_gpt_{record}.py").write_bytes(src)
    if record == "2135":  # its loop imports apply_tilt_to_ptl_torch_fast from this file
        (workdir / "online_ngram_tilt.py").write_bytes(show("online_ngram_tilt.py"))
        sys.path.insert(0, str(workdir))
    text = src.decode()
    parts = [ast.get_source_segment(text, n) for n in ast.parse(text).body
             if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in NAMES]
    os.environ.update(TTT_LORA_ALPHA=str(ALPHA), TTT_WARM_START_A="1")  # read by its BatchedLinearLoRA class body
    ns = {"__name__": "record_1855_ttt"}
    exec("import fcntl, math, os, random, time\nimport torch\nimport torch.distributed as dist\n"
         "import torch.nn.functional as F\nfrom torch import nn\nBOS_ID = 1\ndef log(*a, **k):\n    pass\n"
         + "\n\n".join(parts), ns)
    return ns


def tiny_model() -> GPT:
    torch.manual_seed(0)
    m = GPT(ModelConfig(num_layers=L, model_dim=D, num_heads=2, num_kv_heads=1, vocab_size=V,
                        varlen=VarlenConfig(kernel="masked")))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    m.qo_bank = torch.empty(1, 1, D)  # BatchedTTTLoRA reads the model width from its bank's shape
    m.looping_active = False
    return m.eval()


def record_forward(model: GPT):
    """forward_ttt_train(x, y, lora) of the record, on the pgolf model, with the record's adapters hooked in."""
    def fwd(x, y, lora, hint_ids=None):
        hooks = []
        for i, blk in enumerate(model.blocks):
            pairs = [(blk.attn.c_q, lora.q_loras[i]), (blk.attn.c_v, lora.v_loras[i]), (blk.mlp, lora.mlp_loras[i])]
            if lora.k_loras is not None:
                pairs.append((blk.attn.c_k, lora.k_loras[i]))
            for mod, ad in pairs:
                hooks.append(mod.register_forward_hook(lambda m, a, o, ad=ad: o + ad(a[0])))
            hooks.append(blk.attn.register_forward_hook(
                lambda m, a, o, ad=lora.o_loras[i]: (o[0] + ad(a[0]),) + tuple(o[1:])))
        try:
            hid = model.hidden(x)
            z = head_logits(model, hid, lora.lm_head_lora(hid)).float()
        finally:
            for h in hooks:
                h.remove()
        nll = F.cross_entropy(z.reshape(-1, V), y.reshape(-1), reduction="none").view_as(y)
        if hint_ids is None:
            return nll
        return nll, z.log_softmax(-1).gather(-1, hint_ids.unsqueeze(-1)).squeeze(-1)
    return fwd


def record_order_redraw(bank: LoRABank) -> None:
    """A drawn as #1855 draws it: global RNG, (slots, r, in) per module, lm_head then Q, V, K, MLP, O per slot."""
    kinds = {"attn.c_q": "q", "attn.c_v": "v", "attn.c_k": "k", "mlp": "mlp", "attn": "o"}
    where = {}
    for idx, (name, _) in enumerate(bank.layers):
        if name == "lm_head":
            where[("lm", 0)] = idx
        else:
            layer, rest = name.split(".", 2)[1:]
            where[(kinds[rest], int(layer))] = idx
    order = [("lm", 0)] + [(k, i) for k in ("q", "v", "k", "mlp", "o") for i in range(L) if (k, i) in where]
    A0 = [None] * len(bank.layers)
    for key in order:
        i = where[key]
        n_in = bank.dims[i][0]
        a = torch.empty(bank.slots, bank.rank, n_in).uniform_(-1 / n_in**0.5, 1 / n_in**0.5)
        A0[i] = a.transpose(1, 2).unsqueeze(1).contiguous()
    bank.A0 = A0
    bank.reset()


def stream(n_docs: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lens = rng.integers(5, 90, n_docs)
    return np.concatenate([np.r_[1, rng.integers(2, V, k)] for k in lens]).astype(np.int64)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", choices=sorted(RECORDS), default="1855")
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pgolf_parity_ttt"))
    ap.add_argument("--rows", action="store_true", help="global phase on plain rows of T on both sides "
                    "(GLOBAL_TTT_RESPECT_DOC_BOUNDARIES=0, phased.isolate_docs=false); default: documents isolated")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rec = record_functions(a.mirror, a.workdir, a.record)
    k2135 = a.record == "2135"
    tokens = stream(3 * S)
    rng = np.random.default_rng(1)
    base, space = rng.integers(1, 4, V).astype(np.int16), rng.random(V) < 0.5
    boundary = np.zeros(V, bool)
    boundary[:2], base[:2], space[:2] = True, 0, False
    ph = PhasedTTTConfig(prefix_docs=6, num_phases=1 if k2135 else 2, lr=0.05, momentum=0.9, chunk_tokens=2 * T, batch_seqs=2,
                         grad_clip=1.0, isolate_docs=not a.rows)
    t = TTTConfig(chunk_tokens=C, epochs=1, optimizer="adam", lr=3e-2, momentum=0.0, beta2=0.99, adam_eps=1e-10,
                  weight_decay=0.5, grad_clip=0.0, lr_schedule="constant",
                  lora=LoRATTTConfig(rank=RANK, alpha=ALPHA, batch_docs=S, a_init="per_slot", warm_start_a=True,
                                     lm_head=True,
                                     targets=tuple(x for x in TARGETS_1855 if not (k2135 and x == "attn.c_k"))),
                  phased=ph, tilt=NgramTiltConfig(order=2, threshold=0.3) if k2135 else None)
    h = types.SimpleNamespace(
        phased_ttt_prefix_docs=ph.prefix_docs, phased_ttt_num_phases=ph.num_phases, ttt_chunk_size=C,
        ttt_eval_seq_len=T, eval_seq_len=T, ttt_eval_batches="", ttt_batch_size=S, run_id="pgolf_parity_ttt",
        rank=0, world_size=1, ttt_lora_rank=RANK, ttt_k_lora=not k2135, ttt_mlp_lora=True, ttt_o_lora=True,
        ttt_optimizer="adam", ttt_lora_lr=t.lr, ttt_beta1=0.0, ttt_beta2=t.beta2, ttt_weight_decay=t.weight_decay,
        ttt_grad_steps=1, val_doc_fraction=1.0, seed=0, global_ttt_lr=ph.lr, global_ttt_momentum=ph.momentum,
        global_ttt_epochs=ph.epochs, global_ttt_chunk_tokens=ph.chunk_tokens, global_ttt_batch_seqs=ph.batch_seqs,
        global_ttt_warmup_start_lr=0.0, global_ttt_warmup_chunks=0, global_ttt_grad_clip=ph.grad_clip,
        global_ttt_respect_doc_boundaries=not a.rows, global_ttt_optimizer="sgd", ttt_grad_steps_clean=False)
    val = types.SimpleNamespace(val_tokens=torch.from_numpy(tokens), base_bytes_lut=torch.from_numpy(base),
                                has_leading_space_lut=torch.from_numpy(space),
                                is_boundary_token_lut=torch.from_numpy(boundary), caseops_enabled=False, val_bytes=None)
    model = tiny_model()
    torch.manual_seed(123)
    kw = {}
    if k2135:  # hint for all_tokens[i+1] at index i; boost where gated
        hint, gate = build_hints(tokens, t.tilt)
        kw["precomputed_hints"] = (torch.from_numpy(hint[1:]), torch.from_numpy(gate[1:]),
                                   torch.from_numpy(np.where(gate[1:], t.tilt.boost, 0.0).astype(np.float32)))
    r_loss, r_bpb = rec["eval_val_ttt_phased"](h, model, torch.device("cpu"), val, record_forward(model), **kw)
    model = tiny_model()
    LoRABank.redraw = record_order_redraw
    torch.manual_seed(123)
    res = eval_ttt_phased(model, tokens, T, t, DeviceLUT(ByteLUT(base, space, boundary), torch.device("cpu")),
                          init_runtime("cpu")).result
    d = abs(res.val_bpb - r_bpb)
    print(f"#{a.record} eval_val_ttt_phased: val_loss {r_loss:.10f} val_bpb {r_bpb:.10f}")
    print(f"pgolf eval_ttt_phased:     val_loss {res.val_loss:.10f} val_bpb {res.val_bpb:.10f}  |Δbpb| {d:.2e}  "
          f"({len(tokens) - 1} targets, {3 * S} documents, {ph.num_phases} global phase(s), #{a.record}, global "
          f"phase {'rows of T' if a.rows else 'documents isolated'})")
    others = [("without the tilt", replace(t, tilt=None))] if k2135 else []
    flip = ("with the global phase isolated" if a.rows else "with the global phase on rows",
            replace(t, phased=replace(ph, isolate_docs=a.rows)))
    for label, tt in others + [flip, ("without the global phases", replace(t, phased=replace(ph, prefix_docs=0))),
                               ("without warm-start A", replace(t, lora=replace(t.lora, warm_start_a=False))),
                               ("without training (epochs=0)", replace(t, epochs=0, phased=replace(ph, prefix_docs=0)))]:
        m = tiny_model()  # built before the seed, as above, so the adapters' draws are the record's
        torch.manual_seed(123)
        other = eval_ttt_phased(m, tokens, T, tt, DeviceLUT(ByteLUT(base, space, boundary), torch.device("cpu")),
                                init_runtime("cpu")).result.val_bpb
        print(f"  pgolf {label:30s} val_bpb {other:.10f}  |Δbpb| vs the record {abs(other - r_bpb):.2e}")
    return 0 if d <= 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
