"""`pgolf export`: a records folder from finished runs. Bytes, figures and refusals are checked against the runs' own
files, a naive mean/std, and the bundle rebuilt in the test; every refusal leaves the parent folder as it was."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pgolf.artifact.bundle import build
from pgolf.cli import main
from pgolf.config import Config, from_dict, override, to_dict
from pgolf.errors import PgolfError
from pgolf.records.folder import FinishedRun, Meta, choose_track, export, write_folder

CHALLENGE_DATA = {"data.path": "data/datasets/fineweb10B_sp1024",
                  "data.tokenizer": "data/tokenizers/fineweb_1024_bpe.model", "train.device": "auto"}
DATE = "2026-05-01T12:00:00Z"


@pytest.fixture(scope="module")
def base_cfg(shard_dir, tokenizer_path) -> Config:
    # the tiny_cfg fixture's config (tests/conftest.py), at module scope so the runs below are trained once
    from pgolf.recipes import get_recipe

    return override(get_recipe("tiny").build(), {
        "model.vocab_size": 512, "data.path": str(shard_dir), "data.tokenizer": str(tokenizer_path),
        "train.iterations": 6, "train.batch_tokens": 4 * 256, "eval.max_tokens": 4096, "eval.batch_tokens": 2048,
        "train.log_every": 1, "train.device": "cpu",
    })


@pytest.fixture(scope="module")
def runs(base_cfg, tmp_path_factory) -> tuple[Path, Path]:
    from pgolf.train.run import run

    root = tmp_path_factory.mktemp("runs")
    for seed in (1, 2):
        run(override(base_cfg, {"train.seed": seed}), root / f"s{seed}", recipe="tiny", echo=False)
    return root / "s1", root / "s2"


@pytest.fixture(scope="module")
def over_cap(base_cfg, tmp_path_factory) -> Path:
    """A finished run whose artifact is over its 100,000-byte cap (the run itself says so, after summary.json)."""
    from pgolf.train.run import run

    out = tmp_path_factory.mktemp("over") / "s3"
    with pytest.raises(PgolfError, match="over the 100,000-byte cap"):
        run(override(base_cfg, {"train.seed": 3, "artifact.max_bytes": 100_000}), out, recipe="tiny", echo=False)
    return out


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory):
    lines: list[str] = []
    out = tmp_path_factory.mktemp("records") / "2026-05-01_Tiny"
    sub = export(list(runs), out, Meta(author="Ada", github_id="ada"), log=lines.append, date=DATE)
    return out, sub, lines


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _refused(run_dirs, out: Path, match: str, **kw) -> None:
    before = sorted(p.name for p in out.parent.iterdir())
    with pytest.raises(PgolfError, match=match) as e:
        export(run_dirs, out, log=lambda _: None, **kw)
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in out.parent.iterdir()) == before  # nothing written, no temp folder left


def test_export_writes_every_file_and_ships_the_bundle_of_the_shared_config(runs, exported):
    out, sub, lines = exported
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "submission.json", "train_gpt.py",
                                                     "train_seed1.log", "train_seed2.log"]
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # the temp folder is gone
    for seed, run_dir in zip((1, 2), runs):
        assert (out / f"train_seed{seed}.log").read_bytes() == (run_dir / "train.log").read_bytes()
    # the first run's config, data paths and device reset to the challenge layout, bundled under its recipe name
    first = from_dict(Config, json.loads((runs[0] / "config.json").read_text()))
    code = (out / "train_gpt.py").read_bytes()
    assert code == build(override(first, CHALLENGE_DATA), "tiny")
    assert json.loads((out / "submission.json").read_text()) == sub
    assert any("data.path=data/datasets/fineweb10B_sp1024" in x for x in lines)


def test_submission_figures_are_the_runs_figures(runs, exported):
    out, sub, _ = exported
    code_len = (out / "train_gpt.py").stat().st_size
    s = [_summary(r) for r in runs]
    assert sub["seeds"] == [1, 2] and list(sub["seed_results"]) == ["1", "2"]
    for seed, si in zip(("1", "2"), s):
        r = sub["seed_results"][seed]
        assert (r["val_bpb"], r["val_loss"], r["model_bytes"], r["steps"]) == (
            si["val_bpb"], si["val_loss"], si["model_bytes"], si["steps"])
        assert (r["train_time_s"], r["eval_time_s"]) == (si["train_seconds"], si["eval_seconds"])
        assert r["code_bytes"] == code_len and r["artifact_bytes"] == si["model_bytes"] + code_len
        # the run counted the bundle of its own config (its local data paths), built here again
        own = from_dict(Config, si["config"])
        assert si["code_bytes"] == len(build(own, "tiny"))
    bpb = [x["val_bpb"] for x in s]
    mean = (bpb[0] + bpb[1]) / 2
    std = math.sqrt(sum((b - mean) ** 2 for b in bpb) / (len(bpb) - 1))
    assert bpb[0] != bpb[1]
    assert sub["val_bpb"] == pytest.approx(mean, rel=1e-12, abs=0)
    assert sub["val_bpb_std"] == pytest.approx(std, rel=1e-9, abs=0)
    assert sub["val_loss"] == pytest.approx((s[0]["val_loss"] + s[1]["val_loss"]) / 2, rel=1e-12, abs=0)
    assert sub["pre_quant_val_bpb"] == pytest.approx((s[0]["val_bpb_prequant"] + s[1]["val_bpb_prequant"]) / 2,
                                                     rel=1e-12, abs=0)
    assert sub["bytes_total"] == max(x["model_bytes"] + code_len for x in s) and sub["bytes_code"] == code_len
    assert (sub["author"], sub["github_id"], sub["date"], sub["recipe"]) == ("Ada", "ada", DATE, "tiny")
    assert sub["pytorch_version"] == s[0]["env"]["torch"] and sub["pgolf_version"] == s[0]["env"]["pgolf"]
    assert sub["hardware"].startswith("1xCPU")


def test_cpu_partial_runs_default_to_the_non_record_track_with_warnings(exported):
    _, sub, lines = exported
    assert sub["track"] == "non_record_16mb"
    warnings = [x for x in lines if x.startswith("warning:")]
    assert len(warnings) == 2 and all("world_size 1" in w and "prefix of the val split" in w for w in warnings)


def _fake(**changes) -> FinishedRun:
    s = {"world_size": 8, "device": "NVIDIA H100 80GB HBM3", "eval_partial": False, "train_seconds": 590.0,
         "eval_seconds": 400.0}
    return FinishedRun(Path("r"), Config(), {**s, **changes}, b"")


@pytest.mark.parametrize("change", [{"world_size": 1}, {"device": "NVIDIA A100"}, {"eval_partial": True},
                                    {"train_seconds": 600.5}, {"eval_seconds": 601.0}])
def test_track_is_a_record_only_for_full_8xh100_runs_in_time(change):
    lines: list[str] = []
    assert choose_track([_fake()], None, lines.append) == "10min_16mb" and lines == []
    assert choose_track([_fake(), _fake(**change)], None, lines.append) == "non_record_16mb" and len(lines) == 1
    assert choose_track([_fake(**change)], "10min_16mb", lines.append) == "10min_16mb"
    assert len(lines) == 2 and "as given by --track" in lines[1]


def test_readme_has_results_reproduction_bytes_and_credits(exported):
    out, sub, _ = exported
    text = (out / "README.md").read_text()
    for seed in (1, 2):
        assert f"torchrun --standalone --nproc_per_node=8 train_gpt.py train.seed={seed}" in text
    assert repr(sub["val_bpb"]) in text and repr(sub["val_bpb_std"]) in text
    r = sub["seed_results"]["2"]
    assert f"| {r['model_bytes']:,} | {r['code_bytes']:,} | {r['artifact_bytes']:,} | 16,000,000 |" in text
    assert "`model.vocab_size` | `1024` | `512`" in text  # the config's difference from recipe tiny
    assert "`tiny`" in text and "`baseline`" in text and "OpenAI" in text  # the lineage: tiny ← baseline


def test_bundled_script_runs_each_seed_as_the_runs_did(runs, exported, tmp_path):
    out, _, _ = exported
    r = subprocess.run([sys.executable, str(out / "train_gpt.py"), "--dry-run", "train.seed=2"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout)["config"]
    want = to_dict(override(from_dict(Config, _summary(runs[1])["config"]), CHALLENGE_DATA))
    assert got == want


def test_runs_of_different_configs_are_refused_naming_the_key(runs, over_cap, tmp_path):
    _refused([runs[0], over_cap], tmp_path / "rec", "config key artifact.max_bytes is 100000 but 16000000")


def test_over_cap_run_is_refused(over_cap, tmp_path):
    _refused([over_cap], tmp_path / "rec", r"over the 100,000-byte cap")


def test_unfinished_corrupt_or_tampered_runs_are_refused(runs, tmp_path):
    bad = tmp_path / "runs"

    def copy(name: str) -> Path:
        return Path(shutil.copytree(runs[0], bad / name))

    (copy("unfinished") / "summary.json").unlink()
    (copy("corrupt") / "summary.json").write_text("{not json")
    (copy("nolog") / "train.log").unlink()
    with open(copy("truncated") / "model.pga", "r+b") as f:
        f.truncate(100)
    s = _summary(runs[0])
    (copy("code") / "summary.json").write_text(json.dumps({**s, "code_bytes": s["code_bytes"] + 1}))
    (copy("hash") / "summary.json").write_text(json.dumps({**s, "config_hash": "0" * 12}))
    out = tmp_path / "rec" / "x"
    out.parent.mkdir()
    for name, match in [("unfinished", "no summary.json — the run did not finish"), ("corrupt", "corrupt JSON"),
                        ("nolog", "train.log: cannot read"), ("truncated", "model.pga: 100 bytes but"),
                        ("code", "pgolf's sources changed since the run"), ("hash", "not from the same run"),
                        ("missing", "not a run directory")]:
        _refused([runs[1], bad / name], out, match)
    _refused([runs[0], runs[0]], out, "train.seed 1 again")
    _refused([runs[0]], runs[0] / "records", "overlaps the run directory", force=True)


def test_existing_folder_is_refused_without_force_and_replaced_with_it(runs, tmp_path):
    out = tmp_path / "rec"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    _refused([runs[1]], out, "already exists; pass --force")
    assert (out / "old.txt").read_text() == "keep me"
    sub = export([runs[1]], out, force=True, log=lambda _: None)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "submission.json", "train_gpt.py", "train_seed2.log"]
    assert sub["seeds"] == [2] and "val_bpb_std" not in sub and sub["val_bpb"] == _summary(runs[1])["val_bpb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec"]


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    files = {"a.txt": b"1", "no/such/dir.txt": b"2"}  # the second file cannot be written
    with pytest.raises(PgolfError, match="cannot write the records folder"):
        write_folder(tmp_path / "rec", files, force=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "old.txt").write_text("kept")
    with pytest.raises(PgolfError):
        write_folder(tmp_path / "rec", files, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["rec"] and (tmp_path / "rec" / "old.txt").read_text() == "kept"


def test_cli_export_and_its_one_line_errors(runs, tmp_path, capsys):
    out = tmp_path / "rec"
    rc = main(["export", str(runs[1]), str(runs[0]), "--out", str(out), "--name", "Tiny two seeds",
               "--author", "Ada", "--github-id", "ada", "--track", "10min_16mb"])
    printed = capsys.readouterr()
    assert rc == 0 and "track 10min_16mb" in printed.out and "as given by --track" in printed.out
    sub = json.loads((out / "submission.json").read_text())
    assert sub["name"] == "Tiny two seeds" and sub["seeds"] == [2, 1] and sub["track"] == "10min_16mb"
    assert (out / "README.md").read_text().startswith("# Tiny two seeds\n")
    assert main(["export", str(runs[0]), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "Traceback" not in err
