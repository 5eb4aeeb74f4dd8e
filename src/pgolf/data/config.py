"""The data block of the config tree: where the shards and the tokenizer live, and the train loader's order.

Owned by pgolf.data (loader.py, shuffled.py, packed.py read it); composed by the root `pgolf.config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DataConfig:
    """Where the challenge shards (fineweb_{train,val}_*.bin) and the SentencePiece model live."""

    path: str = "data/datasets/fineweb10B_sp1024"
    tokenizer: str = "data/tokenizers/fineweb_1024_bpe.model"
    # train order: the challenge's stream | seeded shuffled windows (train.seed) | stream + BOS cu_seqlens
    loader: Literal["sequential", "shuffled", "packed"] = "sequential"
