"""Distributed evaluation on 2 gloo ranks (two CPU processes) equals one rank: standard, sliding,
document-aware, full-model TTT, per-document LoRA TTT and phased TTT (adapters + a global SGD phase) — with the
byte tables and with a CaseOps byte sidecar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _dist_worker import compute
from _evalkit import _threads  # noqa: F401 (autouse: one thread)

from pgolf.runtime.dist import init_runtime


def test_two_gloo_ranks_equal_one_rank(tmp_path):
    worker = Path(__file__).with_name("_dist_worker.py")
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, str(worker), str(tmp_path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    single = compute(init_runtime("cpu"))
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0] == ranks[1] and ranks[0].pop("world") == 2
    for name, one in single.items():
        two = ranks[0][name]
        assert (two["scored_tokens"], two["scored_bytes"]) == (one["scored_tokens"], one["scored_bytes"]), name
        assert two["accounting"] == one["accounting"] == ("byte sidecar" if "sidecar" in name else "byte LUT")
        tol = 1e-12 if not name.startswith("ttt") else 1e-6  # TTT: gradients summed in another order
        assert two["val_loss"] == pytest.approx(one["val_loss"], rel=tol), name
        assert two["val_bpb"] == pytest.approx(one["val_bpb"], rel=tol), name
