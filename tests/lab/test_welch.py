"""The t distribution and the one-sided Welch test against closed forms, mpmath's incomplete beta and a case
worked by hand."""

from __future__ import annotations

import math

import pytest

from pgolf.errors import PgolfError
from pgolf.lab.welch import betainc, t_cdf, t_sf, welch_less


@pytest.mark.parametrize("t", [-7.5, -2.0, -0.3, 0.0, 0.4, 1.0, 2.5, 12.0])
def test_t_cdf_matches_the_closed_forms_for_one_and_two_degrees_of_freedom(t):
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-13)  # Cauchy
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-13)


@pytest.mark.parametrize("a,b,x", [(0.5, 0.5, 0.3), (2.0, 0.5, 0.9), (1.7, 0.5, 0.05), (30.0, 0.5, 0.97),
                                   (3.3, 4.1, 0.5), (0.5, 12.0, 0.01)])
def test_incomplete_beta_matches_mpmath(a, b, x):
    mpmath = pytest.importorskip("mpmath")
    want = float(mpmath.betainc(a, b, 0, x, regularized=True))
    assert betainc(a, b, x) == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_student_t_critical_values_from_the_tables():
    # one-sided 5% / 1% points of Student's t (any statistics table): df=4 → 2.132, 3.747; df=10 → 1.812, 2.764
    assert t_sf(2.131847, 4) == pytest.approx(0.05, abs=1e-6)
    assert t_sf(3.746947, 4) == pytest.approx(0.01, abs=1e-6)
    assert t_sf(1.812461, 10) == pytest.approx(0.05, abs=1e-6)
    assert t_sf(2.763769, 10) == pytest.approx(0.01, abs=1e-6)


def test_welch_by_hand():
    # a = 1,2,3 (mean 2, s² 1), b = 3,4,5 (mean 4, s² 1): t = 2/sqrt(2/3) = √6, df = (2/3)²/(2·(1/3)²/2) = 4;
    # for df 4, P(T ≥ t) = 1/2 − (3/8)·(t/√(1+t²/4))·(1 − t²/(12(1+t²/4))) = 1/2 − 0.3·√2.4
    w = welch_less([1.0, 2.0, 3.0], [3.0, 4.0, 5.0])
    assert w.t == pytest.approx(math.sqrt(6), rel=1e-14)
    assert w.df == pytest.approx(4.0, rel=1e-14)
    assert w.p == pytest.approx(0.5 - 0.3 * math.sqrt(2.4), rel=1e-12)
    # population variances (ddof=0): v = 2/3 each, se² = 4/9, t = 3, df still 4
    w0 = welch_less([1.0, 2.0, 3.0], [3.0, 4.0, 5.0], ddof=0)
    assert (w0.t, w0.df) == (pytest.approx(3.0, rel=1e-14), pytest.approx(4.0, rel=1e-14))
    assert w0.p == pytest.approx(0.5 - 0.375 * (3 / math.sqrt(3.25)) * (1 - 9 / 39), rel=1e-12)


def test_welch_unequal_sizes_against_a_naive_formula_and_symmetry():
    a, b = [1.0611, 1.0598, 1.0620, 1.0605, 1.0631], [1.0640, 1.0622, 1.0661]
    ma, mb = sum(a) / 5, sum(b) / 3
    va = sum((x - ma) ** 2 for x in a) / 4
    vb = sum((x - mb) ** 2 for x in b) / 2
    t = (mb - ma) / math.sqrt(va / 5 + vb / 3)
    df = (va / 5 + vb / 3) ** 2 / ((va / 5) ** 2 / 4 + (vb / 3) ** 2 / 2)
    w = welch_less(a, b)
    assert (w.t, w.df) == (pytest.approx(t, rel=1e-12), pytest.approx(df, rel=1e-12))
    mpmath = pytest.importorskip("mpmath")
    assert w.p == pytest.approx(float(0.5 * mpmath.betainc(df / 2, 0.5, 0, df / (df + t * t), regularized=True)),
                                rel=1e-10)
    assert w.p + welch_less(b, a).p == pytest.approx(1.0, abs=1e-14)


def test_constant_sides_and_too_few_seeds():
    assert welch_less([1.0, 1.0], [2.0, 2.0]).p == 0.0
    assert welch_less([2.0, 2.0], [1.0, 1.0]).p == 1.0
    with pytest.raises(PgolfError, match="at least 2 seeds per side"):
        welch_less([1.0], [2.0, 3.0])


def test_margin_shifts_the_difference():
    # H1: mean(a) < mean(b) − m is the plain test on b shifted down by m
    a, b = [1.0, 1.4, 1.1], [2.0, 2.3, 2.9, 2.2]
    w = welch_less(a, b, margin=0.5)
    ref = welch_less(a, [x - 0.5 for x in b])
    assert (w.t, w.df, w.p) == (pytest.approx(ref.t, rel=1e-12), pytest.approx(ref.df, rel=1e-12),
                                pytest.approx(ref.p, rel=1e-12))
