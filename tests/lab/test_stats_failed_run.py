"""`pgolf stats` refuses a run whose summary.json says `status: failed` (pgolf.train.status, issue 16), as
`pgolf export` and `pgolf check` do: one line naming that summary.json, exit 2 — even when the failed summary still
carries a val_bpb (an over-cap run writes its scores before it fails)."""

from __future__ import annotations

import json

import pytest

from pgolf.cli import main
from pgolf.errors import PgolfError
from pgolf.lab.records_read import read_side


def _run(root, name, status, bpb=1.2345):
    d = root / name
    d.mkdir()
    summary = {"status": status, "val_bpb": bpb, "val_loss": 2.0}
    if status == "failed":
        summary["reason"] = "artifact is 16,000,123 bytes, over the 16,000,000-byte cap"
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "config.json").write_text(json.dumps({"train": {"seed": 7}}))
    return d


def test_read_side_refuses_a_failed_run_and_reads_an_ok_one(tmp_path):
    bad = _run(tmp_path, "bad", "failed")
    with pytest.raises(PgolfError, match=r"bad/summary\.json: run failed — artifact is 16,000,123 bytes"):
        read_side(bad)
    ok = read_side(_run(tmp_path, "ok", "ok", 1.25))
    assert [(r.seed, r.val_bpb, r.val_loss) for r in ok] == [("7", 1.25, 2.0)]


@pytest.mark.parametrize("side", ["a", "vs"])
def test_stats_cli_one_line_exit_2(tmp_path, capsys, side):
    bad, ok = _run(tmp_path, "bad", "failed"), _run(tmp_path, "ok", "ok")
    argv = ["stats", str(bad), "--vs", str(ok)] if side == "a" else ["stats", str(ok), "--vs", str(bad)]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert f"{bad / 'summary.json'}: run failed — " in err and "Traceback" not in err
