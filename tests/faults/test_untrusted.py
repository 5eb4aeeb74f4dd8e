"""Untrusted input never runs code (issue 16): checkpoints load with torch.load(weights_only=True), so a pickle that
would execute something is refused in one line and does nothing; artifacts are pgolf's pickle-free format, so a
pickled state dict is refused by its magic before anything is unpickled."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from pgolf.artifact.pack import read_file
from pgolf.errors import PgolfError
from pgolf.runtime.dist import Runtime
from pgolf.train.checkpoint import CheckpointConfig, Checkpointer


class Payload:
    """Unpickling this calls os.mkdir(marker): evidence that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path, how):
    marker = str(tmp_path / "code_ran")
    d = tmp_path / "checkpoints" / "step_0000002"
    d.mkdir(parents=True)
    obj = {"step": 2, "model": Payload(marker)}
    if how == "torch.save":
        torch.save(obj, d / "shared.pt")
    else:
        with open(d / "shared.pt", "wb") as f:
            pickle.dump(obj, f, protocol=2)
    (tmp_path / "checkpoints" / "latest.json").write_text(json.dumps({"step": 2, "dir": d.name}))
    rt = Runtime(0, 1, 0, torch.device("cpu"), False)
    ck = Checkpointer(CheckpointConfig(every=2), tmp_path, rt, "abc")
    with pytest.raises(PgolfError) as e:
        ck.load(parts=None)
    assert "cannot read checkpoint" in str(e.value) and len(str(e.value).splitlines()) == 1
    assert not os.path.exists(marker)


def test_a_pickled_state_dict_is_not_an_artifact(tmp_path):
    marker = str(tmp_path / "code_ran")
    bad = tmp_path / "model.pga"
    torch.save({"w": torch.zeros(2), "x": Payload(marker)}, bad)
    with pytest.raises(PgolfError, match="not a pgolf artifact"):
        read_file(bad)
    assert not os.path.exists(marker)
