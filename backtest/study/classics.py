"""Classic event-study tests the peers offer: Brown-Warner (1980), Lamb (1995), sign, rank-sign.

Registered in :func:`backtest.study.statistics.run_tests` beside the others. Each takes the
arrays of one scope's ``N`` pairs and ``W`` windows and returns ``(statistic, df, n)``, each
``(W,)`` (df NaN for a normal null), as every test in :mod:`backtest.study.statistics`.
Notation there: ``CAR_i`` the pair's CAR over a window of ``L_w`` days, ``e_it`` its
estimation-window abnormal returns (``M_i`` of them). The ``*_sums`` / ``*_counts`` forms take
the sums over a scope's pairs instead: the study reduces them across blocks of pairs
(:class:`~backtest.study.sufficient.ScopeStats`) and
:func:`~backtest.study.scope_tests.tests_table` computes every scope at once from them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backtest.study.crosscorr import centred_rows

Stat = tuple[np.ndarray, np.ndarray, np.ndarray]
#: Rows these tests add to the tests table, after :data:`backtest.study.statistics.TESTS`.
CLASSIC_TESTS: tuple[str, ...] = ("brown_warner_1980", "lamb", "sign", "rank_sign")


def pair_variance(est_resid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: ``M_i`` (estimation residuals present) and ``S_i^2`` (NaN when ``M_i < 2``).

    ``S_i^2 = sum_t (e_it - ē_i)^2 / (M_i - 1)`` (Brown-Warner 1980, appendix A).
    """
    return variance_from_centred(centred_rows(est_resid))


def variance_from_centred(centred: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
                          ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pair_variance` from :func:`~backtest.study.crosscorr.centred_rows`."""
    _, m, _, ss = centred
    with np.errstate(invalid="ignore", divide="ignore"):
        return m, np.where(m >= 2, ss / (m - 1), np.nan)


def abar_sd(cnt: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S(Ā)`` and ``T`` along the last axis: ``Ā_t = total_t / cnt_t`` over the ``T`` days with
    ``cnt_t > 0``, ``S(Ā)^2 = sum_t (Ā_t - mean Ā)^2 / (T - 1)`` (Brown-Warner 1985, JFE 14, p. 7);
    NaN when ``T < 2``. Shared by Brown-Warner (1985) and Lamb (1995)."""
    have = np.asarray(cnt) > 0
    t_days = have.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        abar = np.where(have, total / np.where(have, cnt, 1), 0.0)
        mean = abar.sum(axis=-1) / t_days
        dev = np.where(have, abar - mean[..., None], 0.0)
        sd = np.sqrt((dev * dev).sum(axis=-1) / (t_days - 1))
    return np.where(t_days >= 2, sd, np.nan), t_days


def brown_warner_1980_sums(n: np.ndarray, car_sum: np.ndarray, s2_sum: np.ndarray, m_bar: np.ndarray,
                           lengths: Sequence[int] | np.ndarray) -> Stat:
    """:func:`brown_warner_1980` from sums over the pairs used (``(..., W)``); ``m_bar`` broadcasts."""
    lengths_ = np.asarray(lengths, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # t = CAAR / (sqrt(L_w sum_i S_i^2) / N) (Brown-Warner 1980, appendix A)
        stat = (car_sum / n) / (np.sqrt(lengths_ * s2_sum) / n)
    df = np.broadcast_to(np.asarray(m_bar, dtype=float) - 1.0, np.shape(n))
    return np.where(n >= 1, stat, np.nan), df, n


def lamb_sums(n: np.ndarray, car_sum: np.ndarray, f_sum: np.ndarray, s_abar: np.ndarray) -> Stat:
    """:func:`lamb` from sums over the pairs used (``(..., W)``); ``s_abar`` (``S(Ā)``) broadcasts."""
    with np.errstate(invalid="ignore", divide="ignore"):
        # z = CAAR / (S(Ā) sqrt(f̄_w)) (Lamb 1995, p. 117)
        stat = (car_sum / n) / (s_abar * np.sqrt(f_sum / n))
    return np.where(n >= 1, stat, np.nan), np.full(np.shape(n), np.nan), n


def sign_counts(n: np.ndarray, positive: np.ndarray) -> Stat:
    """:func:`sign_test` from the counts of CARs and of positive CARs."""
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(n >= 1, (positive - n / 2.0) / np.sqrt(n / 4.0), np.nan)
    return stat, np.full(np.shape(n), np.nan), n


def _used_sums(use: np.ndarray, car: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return use.sum(axis=0), np.where(use, car, 0.0).sum(axis=0), np.where(use, x, 0.0).sum(axis=0)


def brown_warner_1980(car: np.ndarray, lengths: Sequence[int], est_resid: np.ndarray) -> Stat:
    """Brown-Warner (1980) test under cross-sectional independence.

    ``t = CAAR / (sqrt(L_w) sqrt(sum_i S_i^2) / N)``, ``S_i^2 = sum_t (e_it - ē_i)^2 / (M_i - 1)``
    (Brown-Warner 1980, JFE 8(3), appendix A, the "independence" variant; the 1985
    crude-dependence form is :func:`~backtest.study.statistics.brown_warner`). The variance of
    the mean is the mean of the pairs' variances over ``N``: exact when the pairs are
    independent, too small when they share day 0 and co-move. Null: ``t(M̄ - 1)``, ``M̄`` the
    mean estimation length (the convention of R's estudy2). Pairs without ``S_i`` or without a
    CAR are left out of both sums.

    >>> est = np.array([[0.01, -0.01, 0.02, 0.00], [0.03, -0.01, 0.00, -0.02]])
    >>> stat, df, n = brown_warner_1980(np.array([[0.03], [0.03]]), [1], est)
    >>> round(float(stat[0]), 6), float(df[0]), int(n[0])   # 0.03 / (sqrt(5e-4/3 + 1.4e-3/3) / 2)
    (2.384158, 3.0, 2)
    """
    car = np.asarray(car, dtype=float)
    m, s2 = pair_variance(est_resid)
    has = np.isfinite(s2)
    m_bar = m[has].mean() if has.any() else np.nan
    return brown_warner_1980_sums(*_used_sums(np.isfinite(car) & has[:, None], car, s2[:, None]), m_bar,
                                  lengths)


def lamb(car: np.ndarray, pe_factor: np.ndarray, est_resid: np.ndarray) -> Stat:
    """Lamb (1995) test: Brown-Warner (1985) with the portfolio's prediction-error variance.

    ``z = CAAR / (S(Ā) sqrt(f_w))`` with ``Ā_t`` the mean estimation AR across pairs on day
    ``t``, ``S(Ā)^2 = sum_t (Ā_t - mean Ā)^2 / (T - 1)`` and ``f_w`` the prediction-error
    factor of a CAR over ``w`` (Lamb 1995, JRI 62(1), p. 117, for one day:
    ``f = 1 + 1/M + (R_m0 - R̄_m)^2 / sum_t (R_mt - R̄_m)^2``). For a window the factor is
    the CAR's own, ``L_w + L_w^2/M + D_w^2 / S_mm`` (MacKinlay 1997, sec. 4), i.e.
    ``Var(CAR_i) / sigma_i^2``: ``pe_factor`` ``(N, W)``, averaged over the pairs (equal
    for pairs sharing a market and an estimation window, as in Lamb's setting). The
    daily-sum form ``sum_t z_t / sqrt(L_w)`` (R's estudy2) ignores the covariance the
    estimated parameters put between days. Null: ``N(0,1)``.

    >>> est = np.array([[0.01, -0.01, 0.02, 0.00], [0.03, -0.01, 0.00, -0.02]])
    >>> stat, _, n = lamb(np.array([[0.03], [0.03]]), np.array([[1.25], [1.25]]), est)
    >>> round(float(stat[0]), 10)       # 0.03 / (0.015 * sqrt(1.25))
    1.788854382
    """
    car = np.asarray(car, dtype=float)
    factor = np.asarray(pe_factor, dtype=float)
    e = np.asarray(est_resid, dtype=float)
    s_abar, _ = abar_sd(np.isfinite(e).sum(axis=0), np.where(np.isfinite(e), e, 0.0).sum(axis=0))
    return lamb_sums(*_used_sums(np.isfinite(car) & np.isfinite(factor), car, factor), s_abar)


def sign_test(car: np.ndarray) -> Stat:
    """Sign test with ``p = 1/2``: ``Z = (w - N/2) / sqrt(N/4)``.

    ``w`` the pairs with a positive CAR out of the ``N`` with a CAR (Brown-Warner 1980,
    appendix A; MacKinlay 1997, sec. 7, the sign test). Null: ``Binomial(N, 1/2)`` (the
    p-value :func:`~backtest.study.statistics.run_tests` reports is the exact binomial one);
    ``N(0,1)`` for ``Z`` in large samples. Assumes a symmetric AR distribution, which the
    generalized sign test (Cowan 1992) relaxes.

    >>> stat, _, n = sign_test(np.array([[-0.01], [-0.02], [0.03], [-0.04]]))
    >>> float(stat[0]), int(n[0])       # (1 - 2) / sqrt(1)
    (-1.0, 4)
    """
    car = np.asarray(car, dtype=float)
    return sign_counts(np.isfinite(car).sum(axis=0), (car > 0).sum(axis=0))


def rank_sign_u(u: np.ndarray) -> np.ndarray:
    """Corrado-Zivney (1992) signs in the shape of standardized ranks: ``0.5 + G_it``.

    ``G_it = sign(AR_it - median_i)`` over the pair's estimation and event days; as the
    median of the ranks ``1..M_i`` is ``(M_i + 1)/2``, ``G_it = sign(U_it - 1/2)`` with
    ``U_it = K_it / (M_i + 1)``. Shifting by ``1/2`` lets
    :func:`~backtest.study.statistics.corrado_rank` compute the rank-sign statistic
    ``Z = sum_{t in w} Ḡ_t / (sqrt(L_w) S_G)``, ``Ḡ_t = N_t^-1/2 sum_i G_it``,
    ``S_G^2 = mean_t Ḡ_t^2`` over all days (Corrado-Zivney 1992, JFQA 27(3), eq. 4-5;
    multi-day windows as Cowan 1992 for the rank test). Null: ``N(0,1)``.

    >>> rank_sign_u(np.array([[0.2, 0.5, 0.8, np.nan]])).tolist()
    [[-0.5, 0.5, 1.5, nan]]
    """
    u = np.asarray(u, dtype=float)
    return 0.5 + np.sign(u - 0.5)


def classic_results(car: np.ndarray, est_resid: np.ndarray, u: np.ndarray,
                    windows: Sequence[tuple[int, int]], offset: int, include: np.ndarray | None = None,
                    pe_factor: np.ndarray | None = None) -> dict:
    """The four tests of one scope as :class:`~backtest.study.statistics.TestResult` by name.

    Arguments as :func:`~backtest.study.statistics.run_tests`; ``pe_factor`` ``(N, W)``
    ``Var(CAR_i) / sigma_i^2`` for Lamb's test (default ``L_w``, the market-adjusted factor).
    The sign test's p-value is the exact ``Binomial(N, 1/2)`` one.
    """
    from backtest.study import statistics as st

    car = np.asarray(car, dtype=float)
    lengths = [last - first + 1 for first, last in windows]
    if pe_factor is None:
        pe_factor = np.broadcast_to(np.asarray(lengths, dtype=float), car.shape)
    stat, df, n = sign_test(car)
    p = st.binomial_p((car > 0).sum(axis=0), n, 0.5)
    shifted = [(a + offset, b + offset) for a, b in windows]
    return {
        "brown_warner_1980": st._result("brown_warner_1980", *brown_warner_1980(car, lengths, est_resid),
                                        "t(M-1)"),
        "lamb": st._result("lamb", *lamb(car, pe_factor, est_resid), "N(0,1)"),
        "sign": st._result("sign", stat, df, n, "Binomial(N, 0.5)", p,
                           [f"Binomial({int(k)}, 0.5)" for k in n]),
        "rank_sign": st._result("rank_sign", *st.corrado_rank(rank_sign_u(u), shifted, include), "N(0,1)"),
    }
