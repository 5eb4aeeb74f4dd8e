"""Faults (issue 16): SIGKILL in the middle of a checkpoint write leaves the previous checkpoint loadable and the
resumed run ends bitwise where the uninterrupted one ends; a full disk (ENOSPC, simulated) is one line and loses
nothing; on 2 gloo ranks, one rank raising makes the other exit with a clear line in bounded time, not hang."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pgolf.runtime.atomic_write as aw
from pgolf.cli import main
from pgolf.errors import PgolfError
from pgolf.runtime.atomic_write import write_atomic
from pgolf.train.status import run_status

HERE = Path(__file__).resolve().parent
SRC = str(Path(__import__("pgolf").__file__).resolve().parents[1])


def train_args(shard_dir, tokenizer_path, out, *extra):
    return ["train", "--recipe", "tiny", "--data", str(shard_dir), "--tokenizer", str(tokenizer_path),
            "--out", str(out), "model.vocab_size=512", "train.iterations=8", "train.batch_tokens=512",
            "train.checkpoint.every=2", "train.log_every=1", "train.device=cpu", "eval.max_tokens=1024",
            "eval.batch_tokens=1024", *extra]


def child_env(**extra):
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", **extra}


def _no_space(fd):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_enospc_write_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    f = tmp_path / "summary.json"
    f.write_bytes(b"old")
    monkeypatch.setattr(aw.os, "fsync", _no_space)
    with pytest.raises(PgolfError) as e:
        write_atomic(f, b"new" * 1000)
    assert "No space left on device" in str(e.value) and len(str(e.value).splitlines()) == 1
    assert f.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp left


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_enospc_at_a_checkpoint_fails_the_run_and_keeps_the_previous_checkpoint(shard_dir, tokenizer_path, tmp_path,
                                                                                 monkeypatch, capsys):
    real = aw.os.fsync

    def fsync(fd):  # the disk fills up while checkpoint 4 is written
        if "step_0000004" in os.readlink(f"/proc/self/fd/{fd}"):
            _no_space(fd)
        real(fd)

    monkeypatch.setattr(aw.os, "fsync", fsync)
    out = tmp_path / "run"
    assert main(train_args(shard_dir, tokenizer_path, out)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "No space left on device" in err[0]
    assert run_status(out)[0] == "failed" and "No space left on device" in run_status(out)[1]
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 2
    assert "run failed:" in (out / "train.log").read_text()
    monkeypatch.setattr(aw.os, "fsync", real)  # space again: the run resumes from checkpoint 2 and finishes
    assert main(train_args(shard_dir, tokenizer_path, out)) == 0
    assert "at step 2" in (out / "train.log").read_text().split("resumed from")[1].splitlines()[0]
    assert run_status(out) == ("ok", None)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_sigkill_mid_checkpoint_write_then_resume_equals_uninterrupted(shard_dir, tokenizer_path, tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert main(train_args(shard_dir, tokenizer_path, full)) == 0
    k = random.Random(16).choice([4, 6])  # a random checkpoint, seeded so a failure reproduces
    marker = tmp_path / "frozen"
    child = subprocess.Popen([sys.executable, str(HERE / "_killed_run.py"), str(k), str(marker),
                              *train_args(shard_dir, tokenizer_path, killed)], env=child_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never reached the checkpoint write"
            time.sleep(0.2)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    step_dir = killed / "checkpoints" / f"step_{k:07d}"
    assert not (step_dir / "shared.pt").exists() and any(step_dir.glob(".shared.pt.*.tmp"))  # killed mid-write
    assert json.loads((killed / "checkpoints" / "latest.json").read_text())["step"] == k - 2
    assert run_status(killed)[0] == "incomplete"
    assert main(train_args(shard_dir, tokenizer_path, killed)) == 0  # resumes from the previous checkpoint
    log = (killed / "train.log").read_text()
    assert f"at step {k - 2}" in log.split("resumed from")[1].splitlines()[0]
    a, b = (json.loads((d / "summary.json").read_text()) for d in (full, killed))
    assert (full / "model.pga").read_bytes() == (killed / "model.pga").read_bytes()
    assert (a["val_loss_prequant"], a["val_bpb"], a["steps"]) == (b["val_loss_prequant"], b["val_bpb"], b["steps"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_one_rank_raising_stops_the_other_with_a_clear_line(shard_dir, tokenizer_path, tmp_path):
    port = str(_free_port())
    args = train_args(shard_dir, tokenizer_path, tmp_path / "run", "train.grad_accum=2",
                      "train.checkpoint=none")
    procs = [subprocess.Popen([sys.executable, str(HERE / "_failing_rank.py"), *args],
                              env=child_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                                            MASTER_PORT=port, PYTHONWARNINGS="ignore::FutureWarning"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for r in (0, 1)]
    errs = []  # (torch 2.13's DDP FutureWarning about broadcast_buffers is silenced above: not ours to assert on)
    for p in procs:
        try:
            _, err = p.communicate(timeout=300)  # bounded: gloo's own timeout is 30 minutes
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a rank hung after its peer failed")
        errs.append(err.decode())
    assert [p.returncode for p in procs] == [2, 2], errs
    assert errs[1].strip() == "pgolf: error: rank 1: simulated bad shard at step 2", errs[1]
    lines = errs[0].strip().splitlines()
    assert len(lines) == 1 and "rank 0/2: a collective failed because another rank stopped" in lines[0], errs[0]
    assert run_status(tmp_path / "run")[0] == "failed"
