"""The one code-byte count (issue 16): the train_gpt.py a submission ships for a run's config.

summary.json (`code_bytes_for` at the end of a run), `pgolf size`, `pgolf bundle --from-run` and `pgolf export` all
measure this one file: the bundle (pgolf.artifact.bundle) of the run's config with the machine-local keys — data
paths and device — at their defaults (the challenge layout, device auto), because the shipped file must not carry the
paths of the machine a run happened on. No registered recipe sets those keys, so the defaults are the recipes' own.
Before this, the run counted the bundle with its local paths and export shipped the reset one: 20 bytes apart.
"""

from __future__ import annotations

import os
from dataclasses import replace

from pgolf.artifact.bundle import build
from pgolf.artifact.bundled import running_bundle
from pgolf.config import Config

LOCAL_KEYS = ("data.path", "data.tokenizer", "train.device")


def shipped_config(cfg: Config) -> Config:
    """`cfg` with its LOCAL_KEYS at their defaults: the config the submission's train_gpt.py carries."""
    d = Config()
    return replace(cfg, data=replace(cfg.data, path=d.data.path, tokenizer=d.data.tokenizer),
                   train=replace(cfg.train, device=d.train.device))


def shipped_code(cfg: Config, recipe: str) -> bytes:
    return build(shipped_config(cfg), recipe)


def code_bytes_for(cfg: Config, recipe: str) -> tuple[int, str]:
    """(code bytes, method): the running bundle's own size, else the size of the file `pgolf export` ships."""
    here = running_bundle()
    if here is not None:
        return os.path.getsize(here), "bundle-file"
    return len(shipped_code(cfg, recipe)), "bundle"
