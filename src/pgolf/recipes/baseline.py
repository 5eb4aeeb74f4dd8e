"""The challenge's naive baseline, exactly (openai/parameter-golf `train_gpt.py` at 4908dc46f; SPEC_SEEDS.md §0).

9 layers × d 512, 8/4 heads, MLP 2x relu², tied embeddings (std 0.005), vocab 1024, seq 1024, RoPE 1e4, QK norm with
q_gain 1.5, resid_mix, U-Net skips, softcap 30, zero-init output projections. Muon lr 0.04 (momentum 0.85→0.95 over
500 steps, NS5); Adam lr 0.05 (tied embedding) / 0.04 (scalars), β (0.9, 0.95). 524,288 tokens/step, 20 priming
steps, wallclock warmdown of 1200 steps under a 600 s cap. Export: per-row int8 (99.99984th-percentile clip, fp16
scales), fp16 passthrough ≤ 65,536 elements (controls fp32), zlib-9.
"""

from pgolf.config import Config
from pgolf.recipes.registry import recipe


@recipe("baseline", "the challenge's naive baseline (9L × 512, int8 + zlib)",
        source="openai/parameter-golf train_gpt.py (records/track_10min_16mb/2026-03-17_NaiveBaseline)",
        author="OpenAI",
        reported={"val_bpb": 1.2244, "val_bpb_prequant": 1.2172, "steps": 13780, "ms_per_step": 43.54,
                  "model_bytes": 15_815_847, "code_bytes": 47_642, "artifact_bytes": 15_863_489,
                  "params": 17_059_912, "hardware": "8xH100"})
def baseline() -> Config:
    return Config()
