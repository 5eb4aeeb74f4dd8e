"""`demo`: what `pgolf demo` trains — the baseline family at CPU size on the built-in Python-docs corpus.

About 1.5 minutes end to end on an idle 2-core CPU: 4 layers × d 128, seq 256, 4,096 tokens per step, 300 steps
with the warmdown over the last 90 (30% of the run), then int8 + zlib export and a round-trip evaluation of the whole
val split. The run is bounded by steps, not by the wallclock (issue 16: a 75 s cap gave 18 steps and val_bpb 3.65 on a
busy laptop, 2.18 on an idle one), so its val_bpb is the same on any machine for a given torch version and thread
count (1, 2, 4 and 8 threads gave bitwise-equal losses on this model, docs/LOG.md); a busy machine only takes longer. (8,192 tokens/step with warmdown 40 gave 2.346 vs 2.235 round-trip val_bpb;
docs/LOG.md.)
"""

from pgolf.config import Config, override
from pgolf.recipes.registry import get_recipe, recipe, tiny

DEMO_STEPS = 300
DEMO_SECONDS_PER_STEP = 0.27  # measured on an idle 2-core CPU sandbox (docs/LOG.md: 301 steps in ~80 s)


@recipe("tiny", "the baseline family at CPU size (4L × 128, seq 256) for tests and smoke runs", parent="baseline")
def tiny_recipe() -> Config:
    return tiny(Config(), full_steps=get_recipe("baseline").reported["steps"])


@recipe("demo", "CPU-sized baseline for `pgolf demo` (~2 min on 2 cores)", parent="tiny")
def demo() -> Config:
    return override(tiny_recipe(), {
        "train.batch_tokens": 4096, "train.iterations": DEMO_STEPS, "train.max_wallclock_seconds": 0.0,
        "schedule.warmdown_iters": 90, "train.log_every": 25, "optim.muon_momentum_warmup_steps": 100,
        "eval.max_tokens": 0, "eval.batch_tokens": 8192,
    })
