"""`demo`: what `pgolf demo` trains — the baseline family at CPU size on the built-in Python-docs corpus.

About two minutes end to end on 2 CPU cores: 4 layers × d 128, seq 256, 8,192 tokens per step, a 75 s wallclock cap
with the baseline's wallclock warmdown, then int8 + zlib export and a round-trip evaluation of the whole val split.
"""

from pgolf.config import Config, override
from pgolf.recipes.registry import recipe, tiny


@recipe("tiny", "the baseline family at CPU size (4L × 128, seq 256) for tests and smoke runs", parent="baseline")
def tiny_recipe() -> Config:
    return tiny(Config())


@recipe("demo", "CPU-sized baseline for `pgolf demo` (~2 min on 2 cores)", parent="tiny")
def demo() -> Config:
    return override(tiny_recipe(), {
        "train.batch_tokens": 8192, "train.iterations": 100_000, "train.max_wallclock_seconds": 75.0,
        "schedule.warmdown_iters": 150, "train.log_every": 50, "optim.muon_momentum_warmup_steps": 100,
        "eval.max_tokens": 0, "eval.batch_tokens": 8192,
    })
