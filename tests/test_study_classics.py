"""Brown-Warner (1980), Lamb (1995), sign and rank-sign tests against hand computations; Holm/BH."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from backtest.study import classics
from backtest.study import statistics as st
from backtest.study.multiple import add_adjusted, adjust, adjust_rows

TOL = 1e-10
EST = np.array([[0.01, -0.01, 0.02, 0.00], [0.03, -0.01, 0.00, -0.02]])


def col(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)[:, None]


def test_brown_warner_1980_hand():
    # S_1^2 = (0.005^2 + 0.015^2 + 0.015^2 + 0.005^2) / 3 = 5e-4 / 3
    # S_2^2 = (0.03^2 + 0.01^2 + 0 + 0.02^2) / 3 = 1.4e-3 / 3 ; sum = 1.9e-3 / 3
    car = np.array([[0.03, 0.05], [0.03, 0.01]])  # CAAR 0.03 in both windows (lengths 1 and 4)
    stat, df, n = classics.brown_warner_1980(car, [1, 4], EST)
    se1 = math.sqrt(1.9e-3 / 3) / 2
    np.testing.assert_allclose(stat, [0.03 / se1, 0.03 / (2 * se1)], rtol=0, atol=TOL)
    assert list(df) == [3, 3] and list(n) == [2, 2]


def test_lamb_hand_one_day_is_lambs_formula():
    # common market over 4 estimation days and day 0: R_m = [0.01, -0.01, 0.02, 0.0], R_m0 = 0.03
    # mean 0.005, S_mm = 2.5e-5 + 2.25e-4 + 2.25e-4 + 2.5e-5 = 5e-4
    # Lamb's factor 1 + 1/4 + (0.025)^2 / 5e-4 = 1 + 0.25 + 1.25 = 2.5 ; S(A) = 0.015 (see BW 1985)
    factor = 1 + 1 / 4 + 0.025**2 / 5e-4
    stat, df, n = classics.lamb(col(0.02, 0.04), np.full((2, 1), factor), EST)
    assert stat[0] == pytest.approx(0.03 / (0.015 * math.sqrt(2.5)), abs=TOL)
    assert np.isnan(df[0]) and n[0] == 2


def test_sign_test_hand_and_exact_binomial_p():
    car = col(-0.01, -0.02, 0.03, -0.04)
    stat, _, n = classics.sign_test(car)
    assert stat[0] == pytest.approx((1 - 2) / 1.0, abs=TOL) and n[0] == 4
    u = st.rank_u(EST[[0, 1, 0, 1]], car)
    out = classics.classic_results(car, EST[[0, 1, 0, 1]], u, [(0, 0)], 4)
    assert out["sign"].p_value[0] == pytest.approx(stats.binomtest(1, 4, 0.5).pvalue, abs=1e-12)
    assert out["sign"].null == ["Binomial(4, 0.5)"]


def test_rank_sign_hand():
    # pair A: estimation [0.01, -0.02, 0.03], day 0 -0.05 -> ranks [3, 2, 4, 1] of M = 4,
    #   U = K/5 = [.6, .4, .8, .2] -> G = [+1, -1, +1, -1]
    # pair B: estimation [0.02, 0.01, -0.01], day 0 -0.03 -> ranks [4, 3, 2, 1] -> G = [+1, +1, -1, -1]
    # G_bar_t = (G_A + G_B) / sqrt(2) = [sqrt 2, 0, 0, -sqrt 2]; S_G^2 = mean(2, 0, 0, 2) = 1
    # Z(day 0) = -sqrt(2) / (sqrt(1) * 1)
    est = np.array([[0.01, -0.02, 0.03], [0.02, 0.01, -0.01]])
    ar = col(-0.05, -0.03)
    u = st.rank_u(est, ar)
    np.testing.assert_allclose(classics.rank_sign_u(u) - 0.5, [[1, -1, 1, -1], [1, 1, -1, -1]])
    out = classics.classic_results(ar, est, u, [(0, 0)], 3)
    assert out["rank_sign"].statistic[0] == pytest.approx(-math.sqrt(2.0), abs=TOL)
    assert out["rank_sign"].p_value[0] == pytest.approx(2 * stats.norm.sf(math.sqrt(2.0)), abs=1e-12)


def test_study_tests_table_has_the_classics_and_adjusted_p():
    # two events x three pairs of synthetic returns through the study's own panel
    from backtest.study.panel import Panel, assemble

    rng = np.random.default_rng(4)
    n, l1, l2 = 6, 80, 3
    m = rng.normal(0, 0.01, (n, l1 + l2))
    r = 0.5 * m + rng.normal(0, 0.01, (n, l1 + l2))
    dates = np.full((n, l2), np.datetime64("2025-01-02", "ns"))
    panel = Panel(np.array(["a"] * 3 + ["b"] * 3, dtype=object), np.array(list("xyzxyz"), dtype=object),
                  np.array(["M"] * n, dtype=object), r[:, :l1], m[:, :l1, None], r[:, l1:], m[:, l1:, None],
                  dates, ("market",))
    res = assemble(panel, model="market", estimation=(-83, -4), event=(-1, 1), car_windows=[(0, 0)],
                   min_estimation=30, return_kind="simple", settings={})
    t = res.tests
    assert set(classics.CLASSIC_TESTS) <= set(t["test"])
    a = t[(t["scope"] == "a") & (t["test"] == "sign")]
    car = res.car[res.car["event_id"] == "a"]["car"].to_numpy()
    w = int((car > 0).sum())
    assert a["p_value"].iloc[0] == pytest.approx(stats.binomtest(w, 3, 0.5).pvalue, abs=1e-12)
    family = t[(t["scope"] == "a") & (t["window"] == "[0,0]")]
    assert (family["p_holm"].dropna() >= family["p_value"][family["p_holm"].notna()] - 1e-15).all()


def test_holm_and_bh_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # Holm: sorted 0.01, 0.03, 0.04, 0.20 -> 4*0.01, 3*0.03, 2*0.04, 1*0.20 = .04, .09, .08, .20,
    # running max -> .04, .09, .09, .20
    np.testing.assert_allclose(adjust(p, "holm"), [0.04, 0.09, 0.09, 0.20], atol=1e-15)
    # BH: m p / k = .04, .06, .0533.., .20 ; running min from the top -> .04, .0533, .0533, .20
    np.testing.assert_allclose(adjust(p, "fdr_bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.20], atol=1e-15)


def test_adjusted_columns_group_by_scope_and_window():
    import pandas as pd

    tests = pd.DataFrame({"scope": ["a", "a", "a", "b"], "window": ["w", "w", "v", "w"],
                          "p_value": [0.01, 0.04, 0.5, np.nan]})
    out = add_adjusted(tests)
    # family (a, w) has two p-values: Holm .02, .04 ; BH .02, .04 ; singletons keep theirs
    np.testing.assert_allclose(out["p_holm"], [0.02, 0.04, 0.5, np.nan])
    np.testing.assert_allclose(out["p_bh"], [0.02, 0.04, 0.5, np.nan])


def test_adjusted_rows_match_statsmodels_per_family(monkeypatch):
    import gc

    from statsmodels.stats.multitest import multipletests

    # statsmodels' Holm calls gc.collect() every time (seconds each in a long test session);
    # collecting garbage does not change its numbers
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    rng = np.random.default_rng(7)
    p = rng.uniform(0, 0.2, (40, 12)) ** 2
    p[rng.random(p.shape) < 0.2] = np.nan  # families of different sizes
    p[3] = np.nan  # a family without any p-value
    p[5, :4] = 0.01  # ties
    for method in ("holm", "fdr_bh"):
        got = adjust_rows(p, method)
        for row in range(p.shape[0]):
            ok = np.isfinite(p[row])
            assert np.isnan(got[row, ~ok]).all()
            if ok.any():
                np.testing.assert_allclose(got[row, ok], multipletests(p[row, ok], method=method)[1],
                                           rtol=1e-15, atol=0)
