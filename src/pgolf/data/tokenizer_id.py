"""Artifacts know their data (issue 16): the artifact records the sha256 of the SentencePiece model it was trained
with, and `pgolf eval` refuses another tokenizer in one line unless told `--allow-tokenizer-mismatch`.

Two tokenizers of the same vocabulary size load the same model without complaint and give a val_bpb that means
nothing (the byte tables differ). The record is `{"sha256": hex of the .model file's bytes, "mode": "plain"}` in the
artifact's metadata (~100 bytes before compression, counted in model_bytes). `mode` names how text became tokens:
"plain" is the challenge's stream, the only one pgolf's loaders read today; a CaseOps or byte-sidecar loader records
its own mode, and eval compares it too. An artifact from before the record exists is scored with a note, not refused.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from pgolf.errors import PgolfError

MODE = "plain"


@lru_cache(maxsize=8)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tokenizer_sha256(path: str | Path) -> str:
    try:
        st = Path(path).stat()
        return _sha256(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    except OSError as e:
        raise PgolfError(f"{path}: cannot read the tokenizer ({e.strerror})") from None


def tokenizer_record(path: str | Path) -> dict | None:
    """The record an artifact carries; None when the tokenizer file is absent (a model exported outside a run)."""
    if not path or not Path(path).is_file():
        return None
    return {"sha256": tokenizer_sha256(path), "mode": MODE}


def check_tokenizer(recorded: dict | None, path: str | Path, artifact: str | Path, allow: bool) -> str:
    """→ a one-line note for the output; raises a one-line PgolfError on a mismatch unless `allow`."""
    if not recorded:
        return "tokenizer not checked (the artifact records none)"
    got = {"sha256": tokenizer_sha256(path), "mode": MODE}
    if got == {k: recorded.get(k) for k in got}:
        return f"tokenizer sha256 {got['sha256'][:12]} matches the artifact"
    what = (f"sha256 {got['sha256'][:12]}… but the artifact was trained with {str(recorded.get('sha256'))[:12]}…"
            if got["sha256"] != recorded.get("sha256") else f"mode {MODE} but the artifact's is {recorded.get('mode')}")
    if not allow:
        raise PgolfError(f"{path}: {what} ({artifact}); the val_bpb would mean nothing — give the tokenizer it was "
                         f"trained with, or --allow-tokenizer-mismatch")
    return f"tokenizer MISMATCH allowed: {what}"
