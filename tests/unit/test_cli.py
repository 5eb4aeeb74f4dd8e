"""CLI contract: exit codes, one-line errors, recipes listing, dry runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pgolf.cli import main


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_unknown_key_is_one_line_exit_2(capsys):
    rc, out, err = run_cli(capsys, "train", "--recipe", "baseline", "--dry-run", "model.num_layerz=3")
    assert rc == 2
    assert err.strip() == "pgolf: error: model.num_layerz: unknown key — did you mean model.num_layers?"
    assert "Traceback" not in err


def test_bad_value_is_one_line_exit_2(capsys):
    rc, _, err = run_cli(capsys, "train", "--recipe", "baseline", "--dry-run", "train.iterations=lots")
    assert rc == 2 and err.count("\n") == 1 and "train.iterations: expected int" in err


def test_unknown_recipe_and_bad_flag(capsys):
    rc, _, err = run_cli(capsys, "train", "--recipe", "baselin", "--dry-run")
    assert rc == 2 and "did you mean baseline" in err
    rc, _, err = run_cli(capsys, "train", "--recipe", "baseline", "--bogus")
    assert rc == 2 and err.count("\n") == 1


def test_recipes_show_baseline_params(capsys):
    rc, out, _ = run_cli(capsys, "recipes", "show", "baseline", "--json")
    data = json.loads(out)
    assert rc == 0 and data["params"] == 17_059_912
    assert data["config"]["model"]["num_layers"] == 9 and data["reported"]["val_bpb"] == 1.2244


def test_recipes_list_json(capsys):
    rc, out, _ = run_cli(capsys, "recipes", "--json")
    names = {r["name"] for r in json.loads(out)}
    assert rc == 0 and {"baseline", "tiny", "demo"} <= names


def test_dry_run_applies_tiny_and_overrides(capsys):
    rc, out, _ = run_cli(capsys, "train", "--recipe", "baseline", "--tiny", "--dry-run", "train.seed=7",
                         "train.iterations=3", "train.max_wallclock_seconds=12")
    data = json.loads(out)
    assert rc == 0
    assert data["config"]["model"]["model_dim"] == 128 and data["config"]["train"]["seed"] == 7
    assert data["config"]["train"]["iterations"] == 3 and data["config"]["train"]["max_wallclock_seconds"] == 12.0
    assert data["params"] < 1_000_000


def test_missing_data_dir_is_clean_error(capsys, tmp_path, tokenizer_path):
    rc, _, err = run_cli(capsys, "train", "--recipe", "tiny", "--data", str(tmp_path / "nope"),
                         "--tokenizer", str(tokenizer_path), "--out", str(tmp_path / "run"), "model.vocab_size=512")
    assert rc == 2 and "data directory does not exist" in err and err.count("\n") == 1


def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "pgolf", "train", "--recipe", "nope", "--dry-run"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("pgolf: error: recipe 'nope'") and "Traceback" not in r.stderr


@pytest.mark.parametrize("argv", [["recipes", "show"], ["eval", "x.pga"]])
def test_usage_errors_exit_2(capsys, argv):
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1


def test_export_refuses_a_missing_run_in_one_line(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "export", str(tmp_path / "nope"), "--out", str(tmp_path / "rec"))
    assert rc == 2 and err.count("\n") == 1 and "nope: not a run directory" in err
    rc, _, err = run_cli(capsys, "export", str(tmp_path / "nope"), "--out", str(tmp_path / "rec"), "--track", "x")
    assert rc == 2 and err.count("\n") == 1 and "10min_16mb" in err
    assert list(tmp_path.iterdir()) == []
