"""PR #443 (CREVIOS): "Bigram-Aware Context Modeling with Mixed-Precision Quantization", val_bpb 1.1431.

Source: openai/parameter-golf refs/pull/443/head @2107e745,
records/track_10min_16mb/2026-03-22_BigramContext_MixedQuant_SWA (README command; train_seed42.log prints the same
config). Seed 42. Derived from pr198; the delta: 10 layers, BigramHash 10240×128, LRs 0.02/0.02/0.03 (WD 0.04 on
both optimizers, the one `WEIGHT_DECAY` knob), SDPA, RoPE base 1e4. 25,517,137 params.
**The run turned off what the code defaults turn on**: `XSA_LAST_N=0 ROPE_DIMS=0 LN_SCALE=0 EMA_ENABLED=0
SWA_ENABLED=1` — so this recipe has no XSA, full RoPE, no LN scale (running the script's defaults gives a different
model: EMA + XSA4 + partial RoPE + LN scale).

As run (the training lines are set below; export and final-eval lines are set where pgolf expresses them):
* SWA: scale < 0.4, every 50 steps (24 snapshots, steps 5500–6650); EMA off.
* Export: 3% magnitude pruning (uniform, every 2-D tensor > 65,536), int5 MLP / int6 attn (bigram.embed and
  bigram.proj int6, no size gate), fp16 `tok_emb` and `blocks.8.attn.c_k`, zstd-22.
* Final eval: sliding 2048/64 (tail windows re-score the last 64 tokens), batch 32, eager (175 s).
"""

from pgolf.config import Config, override
from pgolf.recipes.pr198 import BASE_CONTROLS, pr198
from pgolf.recipes.registry import recipe


@recipe("pr443", "10L BigramHash 10240 + SmearGate, int5 MLP / int6 attn, SWA, prune 3% (PR #443)", parent="pr198",
        source="openai/parameter-golf PR #443 @2107e745 "
               "(records/track_10min_16mb/2026-03-22_BigramContext_MixedQuant_SWA)",
        author="CREVIOS",
        reported={"pr": 443, "val_bpb": 1.14307611, "val_loss": 1.93003103, "val_bpb_prequant": 1.1538,
                  "steps": 6658, "ms_per_step": 90.12, "model_bytes": 15_913_609, "code_bytes": 57_485,
                  "artifact_bytes": 15_971_094, "params": 25_517_137, "seeds": [42], "hardware": "8xH100"})
def pr443() -> Config:
    return override(pr198(), {
        "model.num_layers": 10, "model.rope_base": 10000.0, "model.attention_kernel": "sdpa",
        "model.bigram_hash.buckets": 10240,
        "train.seed": 42, "train.iterations": 20000, "train.val_every": 500, "train.log_every": 100,
        "optim.matrix_lr": 0.02, "optim.scalar_lr": 0.02, "optim.tied_embed_lr": 0.03,
        "optim.routing": "pr443",
        "train.swa": {"every": 50, "threshold": 0.4},
        "quant.policy": "pr443", "quant.prune": {"frac": 0.03, "min_numel": 65_536},
        "quant.control_patterns": (*BASE_CONTROLS, "smear", "bigram.scale"),
    })
