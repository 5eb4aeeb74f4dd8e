"""A failed run says so (issue 16): summary.json gets status "failed" and the one-line reason, train.log records it
(with the traceback when it is a bug), and run_status() tells export/check apart from finished and unfinished runs."""

from __future__ import annotations

import json

import pytest

import pgolf.train.run as run_mod
from pgolf.cli import main
from pgolf.config import override
from pgolf.errors import PgolfError
from pgolf.train.status import require_finished, run_status


def test_a_run_failing_after_the_config_stage_records_why(tiny_cfg, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = override(tiny_cfg, {"data.path": str(empty)})
    with pytest.raises(PgolfError) as e:
        run_mod.run(cfg, tmp_path / "run", echo=False)
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["status"] == "failed" and s["reason"] == str(e.value) and str(empty) in s["reason"]
    assert f"run failed: {e.value}" in (tmp_path / "run" / "train.log").read_text()
    assert run_status(tmp_path / "run") == ("failed", str(e.value))
    with pytest.raises(PgolfError, match="run failed — "):
        require_finished(tmp_path / "run")


def test_a_bug_records_its_traceback_in_train_log(tiny_cfg, tmp_path, monkeypatch):
    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(run_mod, "build_model", broken)
    with pytest.raises(ZeroDivisionError):
        run_mod.run(tiny_cfg, tmp_path / "run", echo=False)
    assert run_status(tmp_path / "run") == ("failed", "ZeroDivisionError: division by zero")
    log = (tmp_path / "run" / "train.log").read_text()
    assert "run failed: ZeroDivisionError: division by zero" in log and "Traceback (most recent call last)" in log


def test_status_of_unfinished_legacy_and_finished_dirs(tmp_path):
    assert run_status(tmp_path)[0] == "incomplete"
    (tmp_path / "summary.json").write_text(json.dumps({"val_bpb": 1.2}))  # written before `status` existed
    assert run_status(tmp_path) == ("ok", None)
    (tmp_path / "summary.json").write_text("{broken")
    assert run_status(tmp_path)[0] == "failed"


def test_train_cli_out_paths_are_one_line(tiny_cfg, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    for out in (f, f / "under"):
        rc = main(["train", "--recipe", "tiny", "--out", str(out), "--data", tiny_cfg.data.path, "--tokenizer",
                   tiny_cfg.data.tokenizer, "model.vocab_size=512"])
        err = capsys.readouterr().err
        assert rc == 2 and len(err.splitlines()) == 1 and "run directory" in err, err
