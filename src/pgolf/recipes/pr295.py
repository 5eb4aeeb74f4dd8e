"""PR #295 (@gowtham0992): "QAT Int5/Int6 + BigramHash(10240) + Backout + SWA50 + U-Net Skips", val_bpb 1.1477.

Source: openai/parameter-golf refs/pull/295/head @f96f6de1,
records/track_10min_16mb/2026-03-20_QAT_Int5Int6_BigramHash_Backout_SWA50 ("all parameters are defaults"; the log
train_v17b.txt embeds the identical source). Seed 42. Derived from pr198; the delta:

Model: 10 layers, BigramHash 10240×128, Backout (λ0 0.2, block 5), SVD spectral tok_emb init (S_1/√k), resid_mix
depth ramp, OrthoInit "param_numel" (2-D params > 65,536 elements: tok_emb, bigram.embed and block matrices — so
bigram.embed, not bigram.proj, is the orthogonal half of the BigramHash branch). RoPE base 1e4 (its NTK code is passed
train_seq_len=2048 and never triggers). SDPA (flash backend), as the run. 25,517,138 params.
Optimizer: Muon lr 0.02 (WD 0.04), AdamW tok 0.03 / scalar 0.02 with WD 0.01. Periodic val every 500 steps.

As run (the training lines are set below; export and final-eval lines are set where pgolf expresses them):
* QAT always on from step 0: STE fake-quant in every CastedLinear with > 65,536 elements, symmetric per-row
  s = max(rowmax, 1e-12)/L, clamp(round(w/s), −L, L), L = 15 for `.mlp.` and 31 for attention.
* SWA: scale < 0.4, every 50 steps (24 snapshots, steps 5300–6450).
* Export: 8% magnitude pruning of every 2-D tensor > 65,536 (incl. tok_emb, bigram.embed); int5 MLP / int6 attn
  ([−32, 31]; s = max(rowmax/c, 1e-12) fp16), fp16 tok_emb, fp16 passthrough ≤ 8,192 (bigram.proj fp16), zstd-22.
* Final eval: sliding 2048/64, full windows only, batch 256, compiled.
"""

from pgolf.config import Config, override
from pgolf.recipes.pr198 import BASE_CONTROLS, pr198
from pgolf.recipes.registry import recipe

# QAT from step 0 on the CastedLinear matrices over 65,536 elements: MLP ±15 (int5), attention ±31 (int6), per-row
# absmax scale (SPEC_SEEDS.md §1.6); everything else trains unquantized.
QAT_295 = (r"^blocks\.\d+\.mlp\.(fc|proj)\.weight$=5", r"^blocks\.\d+\.attn\.(c_q|c_k|c_v|proj)\.weight$=6", r".=none")


@recipe("pr295", "10L QAT int5/int6 + BigramHash 10240 + Backout + SVD init + SWA50 (PR #295)", parent="pr198",
        source="openai/parameter-golf PR #295 @f96f6de1 "
               "(records/track_10min_16mb/2026-03-20_QAT_Int5Int6_BigramHash_Backout_SWA50)",
        author="@gowtham0992",
        reported={"pr": 295, "val_bpb": 1.14770936, "val_loss": 1.93785918, "val_bpb_prequant": 1.1658,
                  "steps": 6457, "ms_per_step": 92.92, "model_bytes": 15_888_496, "code_bytes": 46_872,
                  "artifact_bytes": 15_935_368, "params": 25_517_138, "seeds": [42], "hardware": "8xH100"})
def pr295() -> Config:
    return override(pr198(), {
        "model.num_layers": 10, "model.rope_base": 10000.0, "model.attention_kernel": "sdpa",
        "model.bigram_hash.buckets": 10240,
        "model.backout": {"init": 0.2},
        "model.init.ortho": {"rule": "param_numel", "min_numel": 65_537, "proj_scale": True},
        "model.init.spectral_embed": {"exponent": 0.5},
        "model.init.resid_mix": "depth_ramp",
        "train.seed": 42, "train.iterations": 20000, "train.val_every": 500,
        "optim.matrix_lr": 0.02, "optim.scalar_lr": 0.02, "optim.tied_embed_lr": 0.03, "optim.adam_wd": 0.01,
        "optim.routing": "pr295",
        "train.swa": {"every": 50, "threshold": 0.4},
        "train.qat": {"scale": "absmax", "bits": QAT_295},
        "eval.seq_len": 0,
        "quant.policy": "pr295", "quant.prune": {"frac": 0.08, "min_numel": 65_536},
        "quant.control_patterns": (*BASE_CONTROLS, "smear", "backout_lambda", "bigram.scale"),
    })
