"""Classic event-study tests the peers offer: Brown-Warner (1980), Lamb (1995), sign, rank-sign.

Registered in :func:`backtest.study.statistics.run_tests` beside the others. Each takes the
arrays of one scope's ``N`` pairs and ``W`` windows and returns ``(statistic, df, n)``, each
``(W,)`` (df NaN for a normal null), as every test in :mod:`backtest.study.statistics`.
Notation there: ``CAR_i`` the pair's CAR over a window of ``L_w`` days, ``e_it`` its
estimation-window abnormal returns (``M_i`` of them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

Stat = tuple[np.ndarray, np.ndarray, np.ndarray]
#: Rows these tests add to the tests table, after :data:`backtest.study.statistics.TESTS`.
CLASSIC_TESTS: tuple[str, ...] = ("brown_warner_1980", "lamb", "sign", "rank_sign")


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
    e = np.asarray(est_resid, dtype=float)
    m = np.isfinite(e).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(m > 0, np.where(np.isfinite(e), e, 0.0).sum(axis=1) / m, np.nan)
        dev = np.where(np.isfinite(e), e - mean[:, None], 0.0)
        s2 = np.where(m >= 2, (dev**2).sum(axis=1) / (m - 1), np.nan)
    use = np.isfinite(car) & np.isfinite(s2)[:, None]
    n = use.sum(axis=0)
    lengths_ = np.asarray(lengths, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        caar = np.where(use, car, 0.0).sum(axis=0) / n
        se = np.sqrt(lengths_ * np.where(use, s2[:, None], 0.0).sum(axis=0)) / n
        stat = np.where(n >= 1, caar / se, np.nan)
    m_bar = m[np.isfinite(s2)].mean() if np.isfinite(s2).any() else np.nan
    return stat, np.full(car.shape[1], m_bar - 1.0), n


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
    cnt = np.isfinite(e).sum(axis=0)
    abar = np.where(np.isfinite(e), e, 0.0).sum(axis=0)[cnt > 0] / cnt[cnt > 0]
    s = np.sqrt(((abar - abar.mean()) ** 2).sum() / (abar.size - 1)) if abar.size >= 2 else np.nan
    use = np.isfinite(car) & np.isfinite(factor)
    n = use.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        caar = np.where(use, car, 0.0).sum(axis=0) / n
        f = np.where(use, factor, 0.0).sum(axis=0) / n
        stat = np.where(n >= 1, caar / (s * np.sqrt(f)), np.nan)
    return stat, np.full(car.shape[1], np.nan), n


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
    n = np.isfinite(car).sum(axis=0)
    w = (car > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(n >= 1, (w - n / 2.0) / np.sqrt(n / 4.0), np.nan)
    return stat, np.full(car.shape[1], np.nan), n


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


def classic_table(out, codes: np.ndarray, names: Sequence[str], pools: Sequence[tuple[str, np.ndarray]],
                  car_cols: Sequence[tuple[int, int]], labels: Sequence[str]) -> pd.DataFrame:
    """Rows of the tests table for :data:`CLASSIC_TESTS`: every event (``codes``) and pool.

    ``out`` is the study's :class:`~backtest.study.block.Computed`; one loop per scope (the
    events and pools), none per pair. Columns as the tests table.
    """
    offset = out.fit.est_resid.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        pe = out.car_var / out.fit.sigma2[:, None]  # Lamb's prediction-error factor
    scopes = [(str(name), np.flatnonzero(codes == j)) for j, name in enumerate(names)]
    scopes += [(name, np.flatnonzero(np.isin(codes, members))) for name, members in pools]
    cols: dict[str, list] = {k: [] for k in ("scope", "window", "test", "statistic", "p_value", "null",
                                             "df", "n", "caar", "rbar", "note")}
    w = len(labels)
    for scope, idx in scopes:
        car = out.car[idx]
        n_car = np.isfinite(car).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            caar = np.where(n_car > 0, np.nansum(car, axis=0) / np.maximum(n_car, 1), np.nan)
        results = classic_results(car, out.fit.est_resid[idx], out.u[idx], car_cols, offset,
                                  out.complete[idx], pe[idx])
        for test, res in results.items():
            for key, value in (("scope", [scope] * w), ("window", list(labels)), ("test", [test] * w),
                               ("statistic", list(res.statistic)), ("p_value", list(res.p_value)),
                               ("null", res.null), ("df", list(res.df)), ("n", list(res.n)),
                               ("caar", list(caar)), ("rbar", [np.nan] * w), ("note", res.note)):
                cols[key] += value
    table = pd.DataFrame(cols)
    return table.astype({"statistic": float, "p_value": float, "df": float, "n": int, "caar": float})
