"""`pgolf stats`: means, deltas and verdicts against naive formulas; the leaderboard's published p-values from the
records' own per-seed numbers; the command's text, JSON and one-line errors."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from pgolf.cli import main
from pgolf.lab.records_read import SeedScore
from pgolf.lab.stats import StatsRules, compare


def rows(bpb, loss=None, tag="x"):
    loss = loss or [None] * len(bpb)
    return [SeedScore(str(i), b, lo, tag) for i, (b, lo) in enumerate(zip(bpb, loss))]


def test_means_delta_and_verdicts_by_hand():
    a = rows([1.00, 1.01, 1.02], [2.30, 2.32, 2.34])
    b = rows([1.05, 1.06, 1.07], [2.40, 2.42, 2.44])
    r = compare(a, b)
    assert r["a"]["mean_bpb"] == pytest.approx(1.01) and r["a"]["std_bpb"] == pytest.approx(0.01)
    assert r["delta_bpb"] == pytest.approx(0.05) and r["delta_nats"] == pytest.approx(0.10)
    # bpb: t = 0.05 / sqrt(2·0.0001/3), df 4; nats with margin 0.005: t = 0.095 / sqrt(2·0.0004/3)
    assert r["welch"]["t"] == pytest.approx(0.05 / math.sqrt(2e-4 / 3)) and r["welch"]["df"] == pytest.approx(4)
    assert r["readme"]["t"] == pytest.approx(0.095 / math.sqrt(8e-4 / 3))
    assert r["frontier"]["verdict"] == "met" and r["readme"]["verdict"] == "met"


def test_small_improvement_meets_the_frontier_rule_but_not_the_readme_rule():
    a = rows([1.0600, 1.0602, 1.0598], [2.3200, 2.3204, 2.3196])
    b = rows([1.0610, 1.0612, 1.0608], [2.3222, 2.3226, 2.3218])  # 0.0022 nats better: below the 0.005 bar
    r = compare(a, b)
    assert r["frontier"]["verdict"] == "met" and r["welch"]["p"] < 0.01
    assert r["readme"]["verdict"] == "not met" and r["readme"]["p"] > 0.5
    strict = compare(a, b, rules=StatsRules(frontier_alpha=1e-9))
    assert strict["frontier"]["verdict"] == "not met"


def test_missing_losses_are_derived_from_the_sides_ratio_or_left_unknown():
    a = rows([1.0, 1.1], [2.0, None])  # ratio 2 from seed 0
    r = compare(a, rows([1.2, 1.3], [2.4, 2.6]))
    assert r["a"]["mean_loss"] == pytest.approx((2.0 + 2.2) / 2) and r["a"]["loss"].startswith("derived")
    r = compare(rows([1.0, 1.1]), rows([1.2, 1.3], [2.4, 2.6]))
    assert r["delta_nats"] is None and r["readme"]["verdict"] == "unknown" and r["frontier"]["verdict"] == "met"
    r = compare(rows([1.0]), rows([1.2, 1.3]))
    assert r["welch"] is None and r["frontier"]["verdict"] == "unknown"


# per-seed val_bpb of public records (their submission.json) and the p the leaderboard printed for the pair
# (README of codex/update-leaderboard-20260502); ddof says which variance reproduces it
PUBLISHED = [
    ("#1514 vs #1493", [1.07928348, 1.07996676, 1.08024795], [1.08079, 1.08103, 1.08118], 0.020, 1),
    ("#1529 vs #1514", [1.07506048, 1.07645101, 1.07585093], [1.07928348, 1.07996676, 1.08024795], 0.001, 1),
    ("#1769 vs #1736", [1.06356801, 1.0641313, 1.06466993, 1.06509678, 1.06516558], [1.06610, 1.06473, 1.06563],
     0.063, 1),
    ("#2014 vs #1953", [1.05740567, 1.05730104, 1.05807084], [1.0582472, 1.05846113, 1.05895276], 0.011, 0),
    ("#2135 vs #2014", [1.05662016, 1.05610947, 1.05679341], [1.05740567, 1.05730104, 1.05807084], 0.014, 1),
]


@pytest.mark.parametrize("row,a,b,published,ddof", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_reproduces_the_leaderboards_p_values(row, a, b, published, ddof):
    w = compare(rows(a), rows(b))["welch"]
    assert round(w["p"] if ddof else w["p_population_variance"], 3) == published


def test_cli_text_json_and_errors(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, vals in ((a, [1.05662016, 1.05610947, 1.05679341]), (b, [1.05740567, 1.05730104, 1.05807084])):
        d.mkdir()
        (d / "submission.json").write_text(json.dumps(
            {"seed_results": {s: {"val_bpb": v, "val_loss": v * 2.188} for s, v in zip(("314", "42", "0"), vals)}}))
    assert main(["stats", str(a), "--vs", str(b)]) == 0
    out = capsys.readouterr().out
    assert "p 0.0138" in out and "frontier rule" in out and "FRONTIER" not in out and "MET" in out
    assert main(["stats", str(a), "--vs", str(b), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert [x["seed"] for x in r["a"]["seeds"]] == ["314", "42", "0"]
    assert r["a"]["std_bpb"] == pytest.approx(statistics.stdev([1.05662016, 1.05610947, 1.05679341]), rel=1e-12)
    (b / "submission.json").write_text("{")
    assert main(["stats", str(a), "--vs", str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(b / "submission.json") in err
