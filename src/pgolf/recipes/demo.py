"""`demo`: what `pgolf demo` trains — the baseline family at CPU size on the built-in Python-docs corpus.

About 1.5 minutes end to end on 2 CPU cores: 4 layers × d 128, seq 256, 4,096 tokens per step, a 75 s wallclock cap
with the baseline's wallclock warmdown over the last ~80 steps (~30% of the run), then int8 + zlib export and a
round-trip evaluation of the whole val split. (8,192 tokens/step with warmdown 40 gave 2.346 vs 2.235 round-trip
val_bpb; docs/LOG.md.)
"""

from pgolf.config import Config, override
from pgolf.recipes.registry import recipe, tiny


@recipe("tiny", "the baseline family at CPU size (4L × 128, seq 256) for tests and smoke runs", parent="baseline")
def tiny_recipe() -> Config:
    return tiny(Config())


@recipe("demo", "CPU-sized baseline for `pgolf demo` (~2 min on 2 cores)", parent="tiny")
def demo() -> Config:
    return override(tiny_recipe(), {
        "train.batch_tokens": 4096, "train.iterations": 100_000, "train.max_wallclock_seconds": 75.0,
        "schedule.warmdown_iters": 80, "train.log_every": 50, "optim.muon_momentum_warmup_steps": 100,
        "eval.max_tokens": 0, "eval.batch_tokens": 8192,
    })
