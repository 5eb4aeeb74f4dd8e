"""The challenge's environment variables, for the bundled train_gpt.py (issue 16): reviewers run a submission as
`RUN_ID=… DATA_PATH=… TOKENIZER_PATH=… VOCAB_SIZE=… torchrun --nproc_per_node=8 train_gpt.py` (the challenge
README; the names and meanings of the public train_gpt.py's Hyperparameters). The run-level ones map onto config
keys here, in runtime/, the only package that reads the environment; model hyperparameters (NUM_LAYERS, MODEL_DIM …)
do not: the bundle's frozen config is the submission. Command-line flags and key=value words win over the
environment, and every conflict is reported in one line. RUN_ID names the run directory (runs/RUN_ID) unless --out
is given. RANK/WORLD_SIZE/LOCAL_RANK are torchrun's (pgolf.runtime.dist).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV_KEYS = {
    "DATA_PATH": "data.path",
    "TOKENIZER_PATH": "data.tokenizer",
    "VOCAB_SIZE": "model.vocab_size",
    "SEED": "train.seed",
    "ITERATIONS": "train.iterations",
    "MAX_WALLCLOCK_SECONDS": "train.max_wallclock_seconds",
    "TRAIN_BATCH_TOKENS": "train.batch_tokens",
    "TRAIN_SEQ_LEN": "train.seq_len",
    "WARMUP_STEPS": "train.warmup_steps",
    "WARMDOWN_ITERS": "schedule.warmdown_iters",
    "VAL_LOSS_EVERY": "train.val_every",
    "TRAIN_LOG_EVERY": "train.log_every",
    "VAL_BATCH_SIZE": "eval.batch_tokens",
}


def challenge_overrides(environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], str | None]:
    """→ ({config key: value} from the challenge variables that are set, RUN_ID or None)."""
    env = os.environ if environ is None else environ
    keys = {key: env[name] for name, key in ENV_KEYS.items() if env.get(name, "") != ""}
    return keys, env.get("RUN_ID") or None


def merge_with_flags(env_keys: dict[str, str], flags: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """Flags win. → (merged overrides, one line naming every conflict, or None)."""
    names = {key: name for name, key in ENV_KEYS.items()}
    clash = [f"{names[k]}={v} (flag {k}={flags[k]} wins)" for k, v in env_keys.items()
             if k in flags and str(flags[k]) != str(v)]
    note = "environment overridden by flags: " + "; ".join(clash) if clash else None
    return {**env_keys, **flags}, note
