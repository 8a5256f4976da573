"""Cross-sectional tests against hand computations (scipy as an outside check where it has one)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from backtest.study import statistics as st

TOL = 1e-12


def col(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)[:, None]


def test_cross_sectional_t_hand_and_scipy():
    # CARs 0.01, 0.02, 0.06: mean 0.03; s^2 = (4e-4 + 1e-4 + 9e-4) / 2 = 7e-4
    stat, df, n = st.cross_sectional_t(col(0.01, 0.02, 0.06))
    assert stat[0] == pytest.approx(0.03 / math.sqrt(7e-4 / 3), abs=TOL)
    assert df[0] == 2 and n[0] == 3
    ref = stats.ttest_1samp([0.01, 0.02, 0.06], 0.0)
    assert stat[0] == pytest.approx(ref.statistic, rel=1e-12)
    assert st.p_value(stat, df)[0] == pytest.approx(ref.pvalue, rel=1e-10)


def test_cross_sectional_t_ignores_missing_and_needs_two():
    stat, _df, n = st.cross_sectional_t(np.array([[0.01, np.nan], [np.nan, np.nan], [0.03, 0.02]]))
    # first column: 0.01, 0.03 -> mean 0.02, s^2 = 2e-4 -> t = 0.02 / sqrt(2e-4 / 2) = 2
    assert stat[0] == pytest.approx(2.0, abs=TOL) and n[0] == 2
    assert np.isnan(stat[1]) and n[1] == 1


def test_brown_warner_hand():
    # estimation ARs of two pairs over 4 days:
    # e1 = [0.01, -0.01, 0.02, 0.00], e2 = [0.03, -0.01, 0.00, -0.02]
    # mean AR by day A = [0.02, -0.01, 0.01, -0.01], mean 0.0025
    # S^2 = (0.0175^2 + 0.0125^2 + 0.0075^2 + 0.0125^2) / 3 = 6.75e-4 / 3 = 2.25e-4 -> S = 0.015
    est = np.array([[0.01, -0.01, 0.02, 0.00], [0.03, -0.01, 0.00, -0.02]])
    car = np.array([[0.03, 0.04], [0.03, 0.02]])  # window lengths 1 and 2, CAAR 0.03 in both
    stat, df, n = st.brown_warner(car, [1, 2], est)
    # L=1: 0.03 / 0.015 = 2 ; L=2: 0.03 / (sqrt(2) * 0.015) = sqrt(2)
    np.testing.assert_allclose(stat, [2.0, math.sqrt(2.0)], atol=TOL)
    assert list(df) == [3, 3] and list(n) == [2, 2]


def test_patell_hand():
    # SCAR 1, 2, 0.5 with df 10, 12, 6: variances 10/8 + 12/10 + 6/4 = 3.95 ; df 2 pair dropped
    scar = col(1.0, 2.0, 0.5, 5.0)
    stat, df, n = st.patell_z(scar, np.array([10, 12, 6, 2]))
    assert stat[0] == pytest.approx(3.5 / math.sqrt(3.95), abs=TOL)
    assert n[0] == 3 and np.isnan(df[0])
    assert st.p_value(stat, df)[0] == pytest.approx(2 * stats.norm.sf(3.5 / math.sqrt(3.95)), rel=1e-12)


def test_bmp_hand():
    # SCAR 1, 2, 0: mean 1, s^2 = (0 + 1 + 1) / 2 = 1 -> t = 1 / (1 / sqrt(3)) = sqrt(3), df 2
    stat, df, n = st.bmp(col(1.0, 2.0, 0.0))
    assert stat[0] == pytest.approx(math.sqrt(3.0), abs=TOL)
    assert df[0] == 2 and n[0] == 3


def test_kolari_pynnonen_hand():
    # residuals e1 = e3 = [1,-1,1,-1], e2 = [1,-1,-1,1] (all mean 0):
    # corr(e1,e2) = 0, corr(e1,e3) = 1, corr(e2,e3) = 0 -> rbar = 1/3
    est = np.array([[1.0, -1, 1, -1], [1.0, -1, -1, 1], [1.0, -1, 1, -1]]) * 0.01
    rbar = st.mean_residual_correlation(est, min_days=4)
    assert np.isnan(st.mean_residual_correlation(est))  # 4 days < the 30-day minimum
    assert rbar == pytest.approx(1 / 3, abs=TOL)
    # t_KP = t_BMP * sqrt((1 - 1/3) / (1 + 2/3)) = sqrt(3) * sqrt(0.4) = sqrt(1.2)
    stat, df, _n = st.bmp_kp(col(1.0, 2.0, 0.0), rbar)
    assert stat[0] == pytest.approx(math.sqrt(1.2), abs=TOL)
    assert df[0] == 2


def test_rbar_equals_mean_offdiagonal_correlation():
    # outside reference: numpy's correlation matrix, mean of the off-diagonal entries
    rng = np.random.default_rng(3)
    common = rng.normal(size=60)
    est = 0.5 * common + rng.normal(size=(8, 60))
    c = np.corrcoef(est)
    expected = (c.sum() - 8) / (8 * 7)
    assert st.mean_residual_correlation(est) == pytest.approx(expected, rel=1e-12)


def test_corrado_rank_hand():
    # two pairs, 3 estimation days + 1 event day (L = 4)
    # pair 1 ARs [0.01, -0.02, 0.00 | 0.03]  -> ranks [3, 1, 2, 4], U = K/5
    # pair 2 ARs [0.02, 0.01, -0.01 | 0.015] -> ranks [4, 2, 1, 3]
    # U - 1/2: pair 1 [0.1, -0.3, -0.1, 0.3]; pair 2 [0.3, -0.1, -0.3, 0.1]
    # Ubar_t = sum / sqrt(2) = [0.4, -0.4, -0.4, 0.4] / sqrt(2); S_U^2 = mean(Ubar^2) = 0.08
    est = np.array([[0.01, -0.02, 0.00], [0.02, 0.01, -0.01]])
    ar = np.array([[0.03], [0.015]])
    u = st.rank_u(est, ar)
    np.testing.assert_allclose(u, [[0.6, 0.2, 0.4, 0.8], [0.8, 0.4, 0.2, 0.6]], atol=TOL)
    stat, df, n = st.corrado_rank(u, [(3, 3), (1, 3)])
    # day 3: (0.4/sqrt 2) / sqrt(0.08) = 1  (Corrado 1989: mean(K - 2.5) = 1, S(K) = 1 -> 1)
    # days 1..3 (Cowan 1992): (-0.4 - 0.4 + 0.4)/sqrt(2) / (sqrt(3) sqrt(0.08)) = -1/sqrt(3)
    np.testing.assert_allclose(stat, [1.0, -1 / math.sqrt(3.0)], atol=TOL)
    assert np.isnan(df).all() and list(n) == [2, 2]


def test_rank_u_ties_and_missing():
    # ARs [0.01, nan, 0.01, -0.02]: ranks of present values [2.5, -, 2.5, 1], M = 3 -> U = K / 4
    u = st.rank_u(np.array([[0.01, np.nan, 0.01]]), np.array([[-0.02]]))
    np.testing.assert_allclose(u[0, [0, 2, 3]], [0.625, 0.625, 0.25], atol=TOL)
    assert np.isnan(u[0, 1])


def test_generalized_sign_hand():
    # positive shares of estimation ARs: 2/4, 3/4, 2/4 -> p = (0.5 + 0.75 + 0.5) / 3 = 7/12
    est = np.array([[1.0, -1, 1, -1], [1.0, 1, 1, -1], [1.0, 1, -1, -1]])
    car = col(0.01, 0.02, -0.01)  # w = 2 positive of N = 3
    stat, _df, n = st.generalized_sign(car, est)
    p = 7 / 12
    assert stat[0] == pytest.approx((2 - 3 * p) / math.sqrt(3 * p * (1 - p)), abs=TOL)
    assert n[0] == 3


def test_wilcoxon_hand_and_scipy():
    # x = [0.03, -0.01, 0.02, 0.05, -0.04]: |x| ranks 3, 1, 2, 5, 4; W+ = 3 + 2 + 5 = 10
    # mean 5*6/4 = 7.5, var 5*6*11/24 = 13.75 -> z = 2.5 / sqrt(13.75)
    x = [0.03, -0.01, 0.02, 0.05, -0.04]
    # with a zero (dropped) and a tie: y = [0.03, -0.01, 0.01, 0, 0.05]: n = 4,
    # |y| ranks 3, 1.5, 1.5, 4 -> W+ = 3 + 1.5 + 4 = 8.5; mean 5; var 7.5 - (2^3 - 2)/48 = 7.375
    y = [0.03, -0.01, 0.01, 0.0, 0.05]
    stat, df, n = st.wilcoxon(np.column_stack([x, y]))
    np.testing.assert_allclose(stat, [2.5 / math.sqrt(13.75), 3.5 / math.sqrt(7.375)], atol=TOL)
    assert list(n) == [5, 4]
    p = st.p_value(stat, df)
    for values, p_ours in zip((x, y), p, strict=True):
        ref = stats.wilcoxon(values, method="approx", zero_method="wilcox", correction=False)
        assert p_ours == pytest.approx(ref.pvalue, rel=1e-10)


def test_p_value_and_null_label():
    p = st.p_value(np.array([2.0, 2.0, np.nan]), np.array([5.0, np.nan, 3.0]))
    assert p[0] == pytest.approx(2 * stats.t.sf(2.0, 5), rel=1e-12)
    assert p[1] == pytest.approx(2 * stats.norm.sf(2.0), rel=1e-12)
    assert np.isnan(p[2])
    assert st.null_label(12.0) == "t(12)" and st.null_label(float("nan")) == "N(0,1)"


def test_p_value_has_scipy_stats_bits_in_every_kind_of_cell():
    # t where df is finite, normal where df is NaN or infinite, NaN where the statistic is not
    # finite; broadcast like numpy; exactly scipy.stats' t.sf and norm.sf (not just close)
    rng = np.random.default_rng(7)
    stat = rng.standard_t(4, size=(2000, 5)) * rng.choice([1.0, 30.0, 1e-4], size=(2000, 5))
    stat[::13, 1], stat[::17, 2], stat[::19, 3] = np.nan, np.inf, -np.inf
    df = rng.integers(1, 250, size=(2000, 5)).astype(float)
    df[::7], df[::11, 4] = np.nan, np.inf
    for given in (df, df[:, :1], 12.0, np.nan, rng.uniform(0.5, 1e5, (2000, 5))):
        d = np.broadcast_to(given, stat.shape)
        finite_df = np.isfinite(d)
        expected = np.where(finite_df, 2 * stats.t.sf(np.abs(stat), np.where(finite_df, d, 1.0)),
                            2 * stats.norm.sf(np.abs(stat)))
        expected[~np.isfinite(stat)] = np.nan
        np.testing.assert_array_equal(st.p_value(stat, given), expected)
    assert st.p_value(np.float64(-2.0), 5.0) == 2 * stats.t.sf(2.0, 5)


def test_single_pair_gives_nan_not_warning():
    # one pair: cross-sectional tests undefined (N - 1 = 0), no RuntimeWarning (pytest errors on them)
    car = col(0.02)
    assert np.isnan(st.cross_sectional_t(car)[0]).all()
    assert np.isnan(st.bmp(car)[0]).all()
    assert np.isnan(st.mean_residual_correlation(np.array([[0.01, -0.01, 0.02]])))
    stat, _, n = st.patell_z(car, np.array([30]))
    assert stat[0] == pytest.approx(0.02 / math.sqrt(30 / 28), abs=TOL) and n[0] == 1


def test_run_tests_names_every_test():
    rng = np.random.default_rng(1)
    est = rng.normal(0, 0.01, (6, 40))
    ar = rng.normal(0, 0.01, (6, 5))
    car = np.column_stack([ar[:, 2], ar[:, 2:5].sum(axis=1)])
    out = st.run_tests(car, car / 0.01, np.full(6, 38), est, st.rank_u(est, ar), [(2, 2), (2, 4)], 40)
    assert tuple(out) == st.TESTS
    for res in out.values():
        assert res.statistic.shape == (2,) and np.isfinite(res.statistic).all() and (res.n == 6).all()
        assert np.isfinite(res.p_value).all() and len(res.null) == 2


def test_wilcoxon_exact_p_against_scipy():
    # DeepSeek [0,0]-like: four negative CARs -> W+ = 0; P(W+ <= 0) = 1/16 -> p = 2/16 = 0.125
    four = col(-0.133, -0.088, -0.014, -0.045)
    p, exact = st.wilcoxon_exact_p(four)
    assert p[0] == 0.125 and exact[0]
    assert stats.wilcoxon(four[:, 0], method="exact").pvalue == pytest.approx(0.125, abs=1e-15)
    # N = 12 without ties, and N = 60 (> 50: no exact p), against scipy's exact distribution
    rng = np.random.default_rng(5)
    x = rng.normal(0.01, 0.03, 12)
    p, exact = st.wilcoxon_exact_p(np.column_stack([x, x]))
    assert p[0] == pytest.approx(stats.wilcoxon(x, method="exact").pvalue, rel=1e-12) and exact.all()
    p, exact = st.wilcoxon_exact_p(rng.normal(size=(60, 1)))
    assert np.isnan(p[0]) and not exact[0]
    # a tie in |CAR| or a zero: no exact p
    assert not st.wilcoxon_exact_p(col(0.01, -0.01, 0.02))[1][0]
    assert not st.wilcoxon_exact_p(col(0.01, 0.0, 0.02))[1][0]


def test_binomial_p_against_scipy():
    # scipy.stats.binomtest two-sided (minimum-likelihood rule) as the outside reference
    w, n = np.array([0, 3, 7, 0, 50]), np.array([4, 10, 10, 1, 120])
    p = st.binomial_p(w, n, 0.47)
    expected = [stats.binomtest(int(a), int(b), 0.47).pvalue for a, b in zip(w, n, strict=True)]
    np.testing.assert_allclose(p, expected, rtol=1e-10)


def test_small_n_uses_exact_p_values_and_says_so():
    # four pairs, all CARs negative. Estimation ARs: pair shares of positives 0.5, 0.5, 0.25, 0.75
    # -> p_hat = 0.5; w = 0 of N = 4: Binomial(4, 0.5) two-sided p = 2 * 0.5^4 = 0.125
    # (scipy.stats.binomtest(0, 4, 0.5).pvalue = 0.125); normal approx would give
    # z = -4 * 0.5 / sqrt(4 * 0.25) = -2, p = 0.0455.
    est = np.array([[1.0, -1, 1, -1], [1.0, 1, -1, -1], [1.0, -1, -1, -1], [1.0, 1, 1, -1]]) * 0.01
    car = col(-0.133, -0.088, -0.014, -0.045)
    u = st.rank_u(est, car)
    out = st.run_tests(car, car / 0.02, np.full(4, 30), est, u, [(0, 0)], 4)
    sign = out["generalized_sign"]
    assert sign.statistic[0] == pytest.approx(-2.0, abs=TOL)
    assert sign.p_value[0] == pytest.approx(0.125, abs=1e-12) and sign.null == ["Binomial(4, 0.500)"]
    assert stats.binomtest(0, 4, 0.5).pvalue == pytest.approx(0.125, abs=1e-15)
    wil = out["wilcoxon"]
    # z = (0 - 5) / sqrt(7.5) = -1.826 kept as the statistic; exact p = 0.125 (scipy exact)
    assert wil.statistic[0] == pytest.approx(-5 / math.sqrt(7.5), abs=TOL)
    assert wil.p_value[0] == pytest.approx(stats.wilcoxon(car[:, 0], method="exact").pvalue, abs=1e-15)
    assert wil.null == ["exact Wilcoxon(4)"] and wil.note == [""]
    # with a tie in |CAR|: normal approximation, and the note says so
    tied = st.run_tests(col(-0.01, 0.01, -0.02, -0.03), col(-1, 1, -2, -3), np.full(4, 30), est,
                        u, [(0, 0)], 4)["wilcoxon"]
    assert tied.null == ["N(0,1)"] and "normal approximation" in tied.note[0]
    ref = stats.wilcoxon([-0.01, 0.01, -0.02, -0.03], method="approx", correction=False)
    assert tied.p_value[0] == pytest.approx(ref.pvalue, rel=1e-10)


def test_below_minimum_n_is_nan_with_the_right_null():
    # one pair: the cross-sectional t, BMP and BMP-KP need N >= 2 -> NaN, null still a t law
    est = np.tile([0.01, -0.01], 20)[None, :]
    car = col(0.02)
    out = st.run_tests(car, car / 0.01, np.array([38]), est, st.rank_u(est, car), [(0, 0)], 40)
    for name in ("cross_sectional_t", "bmp", "bmp_kp"):
        res = out[name]
        assert np.isnan(res.statistic[0]) and np.isnan(res.p_value[0]), name
        assert res.null == ["t(N-1)"] and res.note == ["needs N >= 2 (N = 1)"], name
    # Patell works for one pair: SCAR 2 / sqrt(38 / 36)
    assert out["patell_z"].statistic[0] == pytest.approx(2 / math.sqrt(38 / 36), abs=TOL)
    assert out["patell_z"].null == ["N(0,1)"]


def test_rbar_aligns_on_calendar_dates():
    # pair B trades on another exchange whose day 0 is four sessions later: B's estimation
    # window starts four dates after A's, and on every common date B's residual equals A's.
    # On calendar dates they are perfectly aligned; on the relative day B is A lagged by 4.
    rng = np.random.default_rng(8)
    series = rng.normal(size=64)
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-05"))  # 64 dates
    a, b = series[:60], series[4:]
    da, db = dates[:60], dates[4:]
    both = np.vstack([a, b])
    cal = st.mean_residual_correlation(both, np.vstack([da, db]).astype("datetime64[ns]"))
    # by hand: on the 56 common dates A and B are the same values, each standardized on its own
    # 60 days: r = sum z_a z_b / 56 over the common dates
    za, zb = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    assert cal == pytest.approx(float(za[4:] @ zb[:56]) / 56, rel=1e-12)
    assert cal > 0.9
    rel = st.mean_residual_correlation(both)
    assert rel == pytest.approx(float(za @ zb) / 60, rel=1e-12) and abs(rel) < 0.5


def test_pooled_rbar_counts_other_events_as_uncorrelated():
    # events of 3 and 4 pairs with r 0.3 and 0.1: 6 and 12 ordered pairs within events out of
    # 7 * 6 = 42: r = (6 * 0.3 + 12 * 0.1) / 42 = 3 / 42
    assert st.pooled_rbar([0.3, 0.1], [3, 4]) == pytest.approx(3 / 42, rel=1e-12)
    # an event with undefined r adds uncorrelated pairs: (6 * 0.3) / (5 * 4)
    assert st.pooled_rbar([0.3, float("nan")], [3, 2]) == pytest.approx(1.8 / 20, rel=1e-12)
