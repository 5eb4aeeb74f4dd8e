"""Every verb, driven with generated bad arguments: exit 2, exactly one line on stderr, no traceback (issue 16).

The cases are generated per verb from one table of mutations — an unknown flag, a missing required argument, a
non-number where a number is expected, a path that does not exist, a path that is a directory where a file is
expected or a file where a directory is expected, a path *under* a file, a file that is not what it claims to be,
and, for verbs that take them, an unknown key and a badly typed value. None of them trains: every one is refused
before the first step (a training verb's data errors come after the config stage and mark the run failed).
"""

from __future__ import annotations

import json
import re

import pytest

from pgolf.cli import VERBS, main


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    f = root / "a_file.txt"
    f.write_text("not a model, not an artifact, not a shard\n")
    d = root / "a_dir"
    d.mkdir()
    run = root / "fake_run"  # a run directory whose summary says it failed
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"status": "failed", "reason": "killed"}))
    return {"file": str(f), "dir": str(d), "missing": str(root / "missing"), "under_file": str(f / "x"),
            "run": str(run), "root": root}


def cases(p) -> dict[str, list[list[str]]]:
    m, f, d, u = p["missing"], p["file"], p["dir"], p["under_file"]
    out_of = lambda name: str(p["root"] / name)  # a fresh output path per case
    overrides = lambda head: [head + ["model.num_layerz=3"], head + ["train.iterations=lots"], head + ["novalue"]]
    return {
        "demo": [["--frobnicate"], ["--out", f], ["--out", u], *overrides(["--out", out_of("demo")])],
        "train": [
            [], ["--frobnicate"], ["--recipe", "baselin"], ["--recipe", "tiny", "--out", f],
            ["--recipe", "tiny", "--out", u], *overrides(["--recipe", "tiny", "--out", out_of("t1")]),
            ["--recipe", "tiny", "--data", m, "--tokenizer", m, "--out", out_of("t2")],
            ["--recipe", "tiny", "--data", d, "--tokenizer", f, "--out", out_of("t3")],
        ],
        "eval": [
            [], [m, "--data", d, "--tokenizer", f], [f, "--data", d, "--tokenizer", f],
            [d, "--data", d, "--tokenizer", f], [f, "--data", d, "--tokenizer", f, "--seq-len", "abc"],
            [f, "--data", d, "--tokenizer", f, "--seq-len", "0"], [f, "--data", d, "--tokenizer", f, "--device", "tpu"],
            [f, "--data", d, "--tokenizer", f, "--ttt", "sideways"],
        ],
        "recipes": [["frob"], ["show", "nope"], ["show"], ["--frobnicate"]],
        "keys": [["extra"], ["--frobnicate"]],
        "data": [
            [], ["frob"], ["verify", m], ["verify", f], ["verify", d, "--vocab", "abc"], ["tokenizer"],
            ["tokenizer", "--check", f], ["tokenizer", "--check", m], ["tokenizer", "--vocab", "64", "-o", u, "--input", m],
            ["build", "--docs", m, "--tokenizer", m, "--out", out_of("b1")],
            ["build", "--docs", f, "--tokenizer", f, "--out", u],
            ["fineweb", "--train-shards", "abc"],
        ],
        "size": [[], [m], [f], [d], [f, "--code-bytes", "abc"], [f, "--code", m], [f, "--code-bytes", "-1"]],
        "bundle": [
            [], ["--recipe", "nope"], ["--recipe", "tiny", "-o", d], ["--recipe", "tiny", "-o", u],
            ["--from-run", m], ["--from-run", f], ["--from-run", d, "--recipe", "tiny"],
            *overrides(["--recipe", "tiny", "-o", out_of("b.py")]),
        ],
        "export": [
            [], [m, "--out", out_of("e1")], [f, "--out", out_of("e2")], [d, "--out", out_of("e3")],
            [p["run"], "--out", out_of("e4")], [d, "--out", u], [d, "--out", out_of("e5"), "--track", "nope"],
        ],
        "stats": [[], [d], ["--frobnicate"], [m, "--vs", d], [f, "--vs", d], [d, "--vs", d], [p["run"], "--vs", d]],
        "check": [[], ["--frobnicate"], [m], [f], [d], [p["run"]]],
        "bench": [[], ["--recipe", "nope"], ["--recipe", "tiny", "--steps", "abc"], ["--recipe", "tiny", "--steps", "0"],
                  *overrides(["--recipe", "tiny", "--tiny"])],
        "report": [[], [m], [f], [d], [p["run"]]],
        "compare": [[], [m], [f, d], [d, "--by", "tokens"], [d, d]],
    }


def all_cases():
    return [(verb, i) for verb, n in CASE_COUNTS.items() for i in range(n)]


CASE_COUNTS = {"demo": 6, "train": 10, "eval": 8, "recipes": 4, "keys": 2, "data": 12, "size": 7, "bundle": 10,
               "export": 7, "stats": 7, "check": 6,
               "bench": 7, "report": 5, "compare": 5}


def test_every_verb_has_cases(paths):
    c = cases(paths)
    assert {k: len(v) for k, v in c.items()} == CASE_COUNTS
    assert set(VERBS) | {"keys"} >= set(c) and set(VERBS) <= set(c)


@pytest.mark.parametrize("verb,i", all_cases())
def test_bad_input_is_one_line_exit_2(verb, i, paths, capsys, monkeypatch):
    monkeypatch.setenv("PGOLF_CACHE", str(paths["root"] / "cache"))
    argv = [verb, *cases(paths)[verb][i]]
    rc = main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert rc == 2, (argv, err)
    assert len(lines) == 1 and lines[0].strip(), (argv, err)
    assert "Traceback" not in err and "error: pgolf" not in err, (argv, err)  # the prog is printed once
    assert re.match(rf"pgolf( {verb}( [a-z]+)?)?: error: \S", lines[0]), (argv, err)
