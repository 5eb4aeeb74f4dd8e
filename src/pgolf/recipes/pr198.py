"""PR #198 (Jack Princz, @jfprincz): "11-Layer Int6 + WD=0.04 + SWA + FA3", val_bpb 1.1318 (seed 1337).

Source: openai/parameter-golf refs/pull/198/head @372bddea,
records/track_10min_16mb/2026-03-20_11L_Int6_MLP3x_WD04_SmearBigram2k_1.1318 (README command + train.log; the code
defaults do NOT reproduce the run — SPEC_SEEDS.md §5).

Model (as run): 11 layers × 512, 8/4 heads, MLP 3x relu², tied embeddings, BigramHash 2048×128 (→ Muon-routed proj),
SmearGate, U-Net skips (4→5 … 0→9), OrthoInit ("linear_min_dim", ×1/√(2L) on `.proj`: effectively only bigram.proj),
FlashAttention 3 (`auto` here: FA3 when importable, else SDPA, logged). 26,829,913 params.
RoPE: the script's NTK rule with a hard-coded reference length 1024 gives base 1e4·2^(64/62) ≈ 20,452 at the run's
only length 2048 (train and eval); the recipe sets that base explicitly (SPEC_SEEDS.md §6.12).
Optimizer: Muon lr 0.025, momentum 0.92→0.99 over 1500 steps, NS5, WD 0.04; AdamW (tok 0.035, scalar 0.025, WD
0.04); grad clip 0.3. 786,432 tokens/step at seq 2048, 9000 iterations under the 600 s cap, wallclock warmdown 3000.

As run (the training lines are set below; export and final-eval lines are set where pgolf expresses them):
* SWA: snapshot when LR scale < 0.5, every 200 steps (8 snapshots, steps 6000–7400), summed in the params' dtype.
* QAT off (`QAT_ENABLED=0`); MTP heads off.
* Export: int6 per-row absmax [−32, 31] with scale floor 1/31 on attn/MLP matrices, int8-percentile tok_emb and
  bigram.embed, fp16 passthrough ≤ 65,536 elements checked before the control patterns, zstd-22.
* Final eval: sliding window 2048/64 (partial tail windows included: the last 64 tokens are re-scored ~31 extra times),
  batch 32, compiled.
"""

from pgolf.config import Config, override
from pgolf.model.layers import ntk_rope_base
from pgolf.recipes.baseline import baseline
from pgolf.recipes.registry import recipe

BASE_CONTROLS = Config().quant.control_patterns


@recipe("pr198", "11L int6 + WD 0.04 + SWA + FA3, SmearGate + BigramHash 2048 (PR #198)", parent="baseline",
        source="openai/parameter-golf PR #198 @372bddea "
               "(records/track_10min_16mb/2026-03-20_11L_Int6_MLP3x_WD04_SmearBigram2k_1.1318)",
        author="Jack Princz (@jfprincz)",
        reported={"pr": 198, "val_bpb": 1.13178056, "val_loss": 1.91095901, "val_bpb_roundtrip": 1.15432633,
                  "val_bpb_prequant": 1.1432, "steps": 7412, "ms_per_step": 80.95, "model_bytes": 15_624_965,
                  "code_bytes": 64_415, "artifact_bytes": 15_689_380, "params": 26_829_913, "seeds": [1337, 42, 2025],
                  "val_bpb_by_seed": {"1337": 1.13178056, "42": 1.13351895, "2025": 1.13240359},
                  "hardware": "8xH100"})
def pr198() -> Config:
    return override(baseline(), {
        "model.num_layers": 11, "model.mlp_mult": 3.0,
        "model.rope_base": ntk_rope_base(10000.0, 64, 2048),
        "model.bigram_hash": {"buckets": 2048, "dim": 128},
        "model.smear_gate": "on",
        "model.init.ortho": {"rule": "linear_min_dim", "min_dim": 64, "proj_scale": True},
        "train.seq_len": 2048, "train.batch_tokens": 786_432, "train.iterations": 9000, "train.val_every": 0,
        "schedule.warmdown_iters": 3000,
        "optim.matrix_lr": 0.025, "optim.scalar_lr": 0.025, "optim.tied_embed_lr": 0.035,
        "optim.muon_momentum": 0.99, "optim.muon_momentum_warmup_start": 0.92,
        "optim.muon_momentum_warmup_steps": 1500, "optim.muon_wd": 0.04, "optim.adam_wd": 0.04,
        "optim.grad_clip_norm": 0.3, "optim.routing": "pr198",
        "train.swa": {"every": 200, "threshold": 0.5},
        "eval.seq_len": 2048, "eval.stride": 64,
        "artifact.codec": "zstd", "artifact.level": 22, "quant.policy": "pr198",
        "quant.control_patterns": (*BASE_CONTROLS, "smear"),
    })
