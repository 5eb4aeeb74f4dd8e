"""Per-seed scores out of every submission.json layout found upstream, out of logs, and out of pgolf runs; an
unreadable side is one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgolf.errors import PgolfError
from pgolf.lab.records_read import read_side

# one file per layout surveyed on the mirror (values shortened); expected (seed, bpb, loss) rows
LAYOUTS = {
    "seed_results_rows": ({"val_bpb": 1.06, "seeds": [42, 0], "seed_results": {
        "42": {"val_loss": 2.31, "val_bpb": 1.05, "artifact_bytes": 1}, "0": {"val_loss": 2.33, "val_bpb": 1.07}}},
        [("42", 1.05, 2.31), ("0", 1.07, 2.33)]),
    "seeds_as_rows_1514": ({"seeds": {"0": {"val_bpb": 1.079, "val_loss": 2.787}, "42": {"val_bpb": 1.080,
                                                                                          "val_loss": 2.790}}},
                           [("0", 1.079, 2.787), ("42", 1.080, 2.790)]),
    "row_list": ({"seed_results": [{"seed": 1337, "val_bpb": "1.12"}, {"seed": 7, "val_bpb": 1.13}]},
                 [("1337", 1.12, None), ("7", 1.13, None)]),
    "number_map": ({"val_bpb_seeds": {"1337": 1.2, "42": "1.3"}}, [("1337", 1.2, None), ("42", 1.3, None)]),
    "parallel_list": ({"seeds": [1, 2, 3], "seed_bpbs": [1.1, 1.2, 1.3]}, [("1", 1.1, None), ("2", 1.2, None),
                                                                          ("3", 1.3, None)]),
    "flat_keys_545": ({"val_bpb_seed1337": 1.14, "val_loss_seed1337": 1.93, "val_bpb_seed42": 1.15},
                      [("1337", 1.14, 1.93), ("42", 1.15, None)]),
    "seed_n_keys": ({"seed_300": {"val_bpb": 1.11}, "seed_4": {"bpb": 1.12}}, [("300", 1.11, None), ("4", 1.12, None)]),
    "one_seed": ({"seed": 42, "val_bpb": 1.2, "val_loss": 2.0}, [("42", 1.2, 2.0)]),
    "headline_only": ({"val_bpb": 1.22436570, "seeds": [1337]}, [("1337", 1.2243657, None)]),
    "disclosure_ignored": ({"seed_results_pre_fix": {"1": {"val_bpb": 9.0}}, "seed_results": {"1": {"val_bpb": 1.0}}},
                           [("1", 1.0, None)]),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_surveyed_layout(tmp_path, name):
    doc, want = LAYOUTS[name]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "submission.json").write_text(json.dumps(doc))
    for path in (folder, folder / "submission.json"):
        if name == "headline_only" and path.is_file():
            continue  # a bare submission.json must hold per-seed scores
        got = [(r.seed, r.val_bpb, r.val_loss) for r in read_side(path)]
        assert got == want


LOG_2026_03 = """step:7096/20000 val_loss:1.9240 val_bpb:1.1395 train_time:600036ms step_avg:84.56ms
stopping_early: wallclock_cap train_time:600036ms step:7096/20000
final_int6_roundtrip_exact val_loss:1.93592275 val_bpb:1.14656250
final_int8_zlib_roundtrip_exact val_loss:1.89576235 val_bpb:1.12278022
"""


def test_logs_give_the_scores_when_submission_json_has_none(tmp_path):
    (tmp_path / "submission.json").write_text(json.dumps({"val_bpb": 1.1228, "name": "x"}))
    (tmp_path / "train_seed1337.log").write_text(LOG_2026_03)
    (tmp_path / "train_seed42.log").write_text(LOG_2026_03.replace("1.12278022", "1.12300000"))
    (tmp_path / "README.md").write_text("val_loss:9 val_bpb:9\n")
    rows = read_side(tmp_path)
    assert [(r.seed, r.val_bpb, r.val_loss) for r in rows] == [("1337", 1.12278022, 1.89576235),
                                                                ("42", 1.123, 1.89576235)]
    assert read_side(tmp_path / "train_seed42.log")[0].val_bpb == 1.123


def test_pgolf_run_dir(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"val_bpb": 1.5, "val_loss": 2.5, "recipe": "tiny"}))
    (tmp_path / "config.json").write_text(json.dumps({"train": {"seed": 7}}))
    [r] = read_side(tmp_path)
    assert (r.seed, r.val_bpb, r.val_loss, r.source) == ("7", 1.5, 2.5, str(tmp_path))


@pytest.mark.parametrize("content,match", [("{oops", "not valid JSON"), ("[1, 2]", "expected a JSON object"),
                                           (json.dumps({"name": "x"}), "no per-seed val_bpb")])
def test_unreadable_side_is_one_line_naming_the_file(tmp_path, content, match):
    f = tmp_path / "submission.json"
    f.write_text(content)
    with pytest.raises(PgolfError, match=match) as e:
        read_side(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)


def test_folder_with_nothing_readable(tmp_path):
    with pytest.raises(PgolfError, match="not a pgolf run or records folder"):
        read_side(tmp_path)
    with pytest.raises(PgolfError, match="no such file or folder"):
        read_side(tmp_path / "missing")
    (tmp_path / "summary.json").write_text(json.dumps({"val_bpb": 1.0}))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(PgolfError, match="not a pgolf run summary"):
        read_side(Path(tmp_path))


def test_missing_losses_come_from_the_same_seeds_log(tmp_path):
    (tmp_path / "submission.json").write_text(json.dumps({"seed_results": {
        "1337": {"val_bpb": 1.12278}, "7": {"val_bpb": 1.13}}}))
    (tmp_path / "train_seed1337.log").write_text(LOG_2026_03)  # final val_bpb 1.12278022: the same score
    (tmp_path / "train_seed7.log").write_text(LOG_2026_03)  # a different score: not this seed's figure
    rows = read_side(tmp_path)
    assert [(r.seed, r.val_loss) for r in rows] == [("1337", 1.89576235), ("7", None)]
    assert "val_loss from train_seed1337.log" in rows[0].source
