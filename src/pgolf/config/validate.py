"""`validate()`: the cross-field checks of a whole run that single annotations cannot express.

Each package's own rows come from beside its config (model/config.py, train/config.py, quant/config.py, …); this
module adds the checks that span two blocks (eval length vs train length, GPTQ of the embedding vs tied weights)
and raises the first failure as one line naming the key.
"""

from __future__ import annotations

from pgolf.artifact.config import artifact_checks
from pgolf.config.tree import Config
from pgolf.errors import PgolfError
from pgolf.eval.config import validate_eval
from pgolf.model.config import validate_model
from pgolf.optim.config import optim_checks, schedule_checks
from pgolf.quant.config import quant_checks
from pgolf.train.config import train_checks


def validate(cfg: Config) -> Config:
    """Cross-field checks that single annotations cannot express."""
    m, t, e = cfg.model, cfg.train, cfg.eval
    validate_model(m)
    checks = [
        *train_checks(t),
        (e.seq_len >= 0 and e.stride >= 0, "eval.stride", "eval.seq_len and eval.stride must be ≥ 0"),
        *artifact_checks(cfg.artifact),
        *optim_checks(cfg.optim),
        *schedule_checks(cfg.schedule),
        *quant_checks(cfg.quant),
        (m.varlen is None or cfg.data.loader == "packed", "model.varlen",
         "needs data.loader=packed (its cu_seqlens drive the document-isolated attention)"),
        (cfg.quant.gptq is None or not cfg.quant.gptq.embeddings or m.tie_embeddings, "quant.gptq.embeddings",
         "needs tied embeddings (model.tie_embeddings=true): the LM head's inputs give the embedding's Hessian"),
    ]
    for ok, key, msg in checks:
        if not ok:
            raise PgolfError(f"{key}: {msg}")
    T = e.seq_len or t.seq_len
    if e.stride and e.stride > T:
        raise PgolfError(f"eval.stride: must be ≤ the eval sequence length {T}")
    validate_eval(e, T)
    return cfg
