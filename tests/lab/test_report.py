"""`pgolf report` / `pgolf compare` on a real tiny run; matplotlib absent; bad run directories are one line."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from pgolf.cli import main
from pgolf.config import override
from pgolf.lab.compare import compare_rows
from pgolf.lab.plots import matplotlib_available
from pgolf.lab.report import quant_gap, schedules
from pgolf.lab.rundata import load_run

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shard_dir, tokenizer_path):
    from pgolf.recipes import get_recipe
    from pgolf.train.run import run

    cfg = override(get_recipe("tiny").build(), {
        "model.vocab_size": 512, "data.path": str(shard_dir), "data.tokenizer": str(tokenizer_path),
        "train.iterations": 6, "train.batch_tokens": 2 * 256, "eval.max_tokens": 2048, "eval.batch_tokens": 2048,
        "train.log_every": 1, "train.val_every": 3, "train.device": "cpu", "schedule.warmdown_iters": 3,
        "optim.muon_momentum_warmup_steps": 4})
    out = tmp_path_factory.mktemp("runs") / "tiny-run"
    run(cfg, out, recipe="tiny", echo=False)
    return out


def test_report_writes_plots_and_tables(run_dir, capsys):
    pytest.importorskip("matplotlib")
    assert main(["report", str(run_dir)]) == 0
    assert "report:" in capsys.readouterr().out
    for name in ("curves.png", "schedules.png", "bytes.png", "quant_gap.png"):
        assert (run_dir / name).read_bytes()[:8] == PNG, name
    md = (run_dir / "report.md").read_text()
    for section in ("## Curves", "## Schedules", "## Byte budget", "## Quantization gap", "![curves.png]"):
        assert section in md
    s = json.loads((run_dir / "summary.json").read_text())
    assert f"**{s['artifact_bytes']:,}**" in md  # model file + code = the summary's artifact bytes
    assert not list(run_dir.glob("*.tmp.png"))


def test_schedules_recomputed_equal_the_logged_ones(run_dir):
    run = load_run(run_dir)
    sched = schedules(run)
    logged = {r["step"]: r["lr_scale"] for r in run.train}
    assert len(sched["step"]) == 6
    for step, scale in logged.items():  # the record after step s holds the scale applied at step index s-1
        assert sched["lr_scale"][step - 1] == scale
    assert sched["lr_scale"][-1] < 1.0 == sched["lr_scale"][0]  # the warmdown shows
    assert sched["muon_momentum"][0] < sched["muon_momentum"][-1]  # the momentum warmup shows
    assert set(sched["wd_scale"]) == {1.0}  # no taper block: constant


def test_training_log_carries_the_bench_numbers(run_dir):
    """The FLOPs line at the start of train.log is the one `pgolf bench` computes; the step lines carry an ETA."""
    from pgolf.config import Config, from_dict
    from pgolf.model.flops import header_line

    cfg = from_dict(Config, json.loads((run_dir / "config.json").read_text()))
    log = (run_dir / "train.log").read_text().splitlines()
    head = header_line(cfg.model, cfg.train.seq_len, None)
    assert head in log[:8] and "attention full" in head
    steps = [line for line in log if line.startswith("step ")]
    assert steps and all(" | eta " in line for line in steps) and steps[-1].endswith("eta 0s")
    assert any(line.startswith("model ") and "FLOP/s (attention full)" in line for line in log)


def test_val_points_sit_on_the_training_clock(run_dir):
    run = load_run(run_dir)
    assert [r["step"] for r in run.val] == [3]
    at3 = next(r["elapsed_s"] for r in run.train if r["step"] == 3)
    assert run.val[0]["elapsed_s"] == pytest.approx(at3)


def test_quant_gap_stages_come_from_the_summary(run_dir):
    s = json.loads((run_dir / "summary.json").read_text())
    gap = dict(quant_gap(load_run(run_dir)))
    assert gap["pre-quant"] == s["val_bpb_prequant"] and gap["round trip (artifact)"] == s["val_bpb"]
    ttt = {**s, "eval_ttt": {"method": "full"}}
    stages = quant_gap(type("R", (), {"summary": ttt})())
    assert stages[-2] == ("round trip (artifact)", None)  # with TTT the plain round trip is not measured
    assert stages[-1] == ("round trip + TTT", s["val_bpb"])


def test_compare_table_and_plot(run_dir, tmp_path, capsys):
    other = tmp_path / "copy"
    shutil.copytree(run_dir, other)
    rows = compare_rows([load_run(run_dir), load_run(other)])
    assert rows[1]["delta_bpb"] == 0.0 and rows[0]["steps"] == 6
    out = tmp_path / "cmp.png"
    assert main(["compare", str(run_dir), str(other), "--by", "time", "--out", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in got] == ["tiny-run", "copy"]
    if matplotlib_available():
        assert out.read_bytes()[:8] == PNG


def test_without_matplotlib_one_line_and_tables(run_dir, tmp_path, monkeypatch, capsys):
    d = tmp_path / "r"
    shutil.copytree(run_dir, d, ignore=shutil.ignore_patterns("*.png", "report.md"))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    assert main(["report", str(d)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pgolf[plot]" in err[0]
    assert (d / "report.md").is_file() and not list(d.glob("*.png"))
    assert "## Byte budget" in (d / "report.md").read_text()
    assert main(["compare", str(d), "--out", str(tmp_path / "c.png")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pgolf[plot]" in err[0] and not (tmp_path / "c.png").exists()


def test_bad_run_directories_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0, "elapsed_s": 1.0}\n{oops\n{"step": 2}\n')
    assert main(["compare", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("pgolf: error: ") for line in err)
    assert "no metrics.jsonl" in err[1] and "metrics.jsonl:2" in err[2]


def test_truncated_last_line_is_a_note(tmp_path):
    d = tmp_path / "killed"
    d.mkdir()
    (d / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0, "elapsed_s": 1.0}\n{"step": 2, "lo')
    run = load_run(d)
    assert len(run.train) == 1 and any("truncated last line" in n for n in run.notes)
    assert any("summary.json" in n for n in run.notes)
