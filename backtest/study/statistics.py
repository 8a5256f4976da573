"""Cross-sectional significance tests of abnormal returns (one scope = one set of pairs).

Every test takes arrays for the ``N`` pairs of one scope (an event, or all
events) and ``W`` windows, and returns the statistic, its degrees of freedom
(NaN for a normal null) and the number of pairs used, each shaped ``(W,)``.
A one-day window ``[t, t]`` gives the AAR version of a test, a longer one the
CAAR version. P-values are two-sided; :func:`run_tests` makes the sign test's exact
(binomial) and Wilcoxon's exact at small N (:mod:`backtest.study.exact`) and returns NaN
below each test's minimum N (:data:`MIN_N`). Inputs are pure arrays; NaN = missing.

Notation: ``CAR_i`` cumulative abnormal return of pair ``i`` over the window
(``L_w`` days); ``SCAR_i = CAR_i / sqrt(Var(CAR_i))`` with the full
prediction-error variance; ``df_i`` the residual degrees of freedom of pair
``i``'s model; ``e_it`` its estimation-window abnormal returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from backtest.study.crosscorr import (  # noqa: F401  (re-exported: the r̄ helpers live there)
    MIN_OVERLAP,
    mean_residual_correlation,
    pooled_rbar,
    rbar_from_unit,
    unit_residuals,
)
from backtest.study.exact import WILCOXON_EXACT_MAX, binomial_p, wilcoxon_exact_p
from backtest.study.ranks import rank_rows, standardized_ranks

TESTS: tuple[str, ...] = (
    "cross_sectional_t", "brown_warner", "patell_z", "bmp", "bmp_kp",
    "corrado_rank", "generalized_sign", "wilcoxon",
)
Stat = tuple[np.ndarray, np.ndarray, np.ndarray]  # statistic, df, n — each (W,)
#: Fewest pairs a test needs; below it the statistic and p-value are NaN (with a note).
MIN_N: dict[str, int] = {
    "cross_sectional_t": 2, "brown_warner": 1, "patell_z": 1, "bmp": 2, "bmp_kp": 2,
    "corrado_rank": 1, "generalized_sign": 1, "wilcoxon": 1,
    # backtest.study.classics (rows after these, see classics.CLASSIC_TESTS)
    "brown_warner_1980": 1, "lamb": 1, "sign": 1, "rank_sign": 1,
}


@dataclass(frozen=True)
class TestResult:
    """One test of one scope over ``W`` windows: arrays ``(W,)`` and one null/note per window."""

    statistic: np.ndarray
    df: np.ndarray
    n: np.ndarray
    p_value: np.ndarray
    null: list[str]
    note: list[str]
    p_from_df: bool = False  # p_value left NaN, to be computed from (statistic, df) by the caller


def _count_sum(x: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    valid = np.isfinite(x)
    return valid.sum(axis=axis), np.where(valid, x, 0.0).sum(axis=axis)


def _cross_t(x: np.ndarray) -> Stat:
    n, total = _count_sum(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        dev = np.where(np.isfinite(x), x - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / (n - 1))
        stat = np.where(n >= 2, mean / (sd / np.sqrt(n)), np.nan)
    return stat, np.where(n >= 2, n - 1.0, np.nan), n


def cross_sectional_t(car: np.ndarray) -> Stat:
    """Cross-sectional t test of the CAAR.

    ``t = CAAR / (s / sqrt(N))``, ``s^2 = sum_i (CAR_i - CAAR)^2 / (N - 1)``
    (MacKinlay 1997, sec. 4.4, "cross-sectional" variance). Null: ``t(N - 1)``.
    Convention: MacKinlay writes ``Var(CAAR) = N^-2 sum_i (CAR_i - CAAR)^2``; the
    unbiased ``s^2 / N`` used here is the one-sample t test (``scipy.stats.ttest_1samp``).
    """
    return _cross_t(np.asarray(car, dtype=float))


def brown_warner(car: np.ndarray, lengths: Sequence[int], est_resid: np.ndarray) -> Stat:
    """Brown-Warner (1985) time-series test with the crude dependence adjustment.

    ``t = CAAR / (sqrt(L_w) S(Ā))`` with ``Ā_t`` the mean estimation AR across
    pairs on estimation day ``t`` and ``S(Ā)^2 = sum_t (Ā_t - mean Ā)^2 / (T - 1)``
    over the ``T`` estimation days with data (Brown-Warner 1985, JFE 14, p. 7).
    Null: ``t(T - 1)``. Conventions: estimation days are aligned on the relative day
    and ``Ā_t`` averages the pairs that have day ``t``; the numerator is the mean of the
    pairs' CARs and ``L_w`` the window length even where a pair misses a day.
    """
    car = np.asarray(car, dtype=float)
    n, total = _count_sum(car)
    cnt, tot = _count_sum(np.asarray(est_resid, dtype=float))
    days = cnt > 0
    t_days = int(days.sum())
    if t_days < 2:
        nan = np.full(car.shape[1], np.nan)
        return nan, nan, n
    abar = tot[days] / cnt[days]
    s = np.sqrt(((abar - abar.mean()) ** 2).sum() / (t_days - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(n >= 1, (total / n) / (np.sqrt(np.asarray(lengths, dtype=float)) * s), np.nan)
    return stat, np.full(car.shape[1], t_days - 1.0), n


def patell_z(scar: np.ndarray, df: np.ndarray) -> Stat:
    """Patell (1976) standardized-residual test.

    ``Z = sum_i SCAR_i / sqrt(sum_i (df_i) / (df_i - 2))`` — each ``SCAR_i`` is
    ``t(df_i)`` with variance ``df_i/(df_i - 2)`` (Patell 1976, JAR 14(2), eq. 7;
    ``df_i = M_i - 2`` for the market model). Multi-day windows standardize the CAR
    by its own full variance (Mikkelson-Partch 1988). Pairs with ``df_i <= 2`` are
    left out. Null: ``N(0,1)``. The variance ``df/(df - 2)`` is exact for SCAR over
    any window: ``SCAR_i`` is ``t(df_i)`` under normal returns, whatever ``L_w`` (the
    classic multi-day Patell form ``sum_t SAR_it / sqrt(L_w)`` ignores the covariance of
    the ``SAR_it`` through the estimated parameters).
    """
    scar = np.asarray(scar, dtype=float)
    df = np.asarray(df, dtype=float)[:, None]
    use = np.isfinite(scar) & (df > 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(use, df / (df - 2.0), 0.0).sum(axis=0)
        stat = np.where(use, scar, 0.0).sum(axis=0) / np.sqrt(var)
    n = use.sum(axis=0)
    return np.where(n >= 1, stat, np.nan), np.full(scar.shape[1], np.nan), n


def bmp(scar: np.ndarray) -> Stat:
    """Boehmer-Musumeci-Poulsen (1991) standardized cross-sectional test.

    ``t = mean(SCAR) / (s_SCAR / sqrt(N))``, ``s_SCAR`` the cross-sectional
    standard deviation of ``SCAR_i`` (BMP 1991, JFE 30, eq. 5). Null: ``t(N - 1)``.
    ``SCAR_i = CAR_i / sqrt(Var(CAR_i))`` with the full prediction-error variance, so
    a one-day window is BMP's standardized AR; longer windows standardize the CAR as
    a whole (Mikkelson-Partch 1988; Kolari-Pynnönen 2010, sec. 2) rather than summing
    daily standardized ARs.
    """
    return _cross_t(np.asarray(scar, dtype=float))


def bmp_kp(scar: np.ndarray, rbar: float) -> Stat:
    """BMP test with the Kolari-Pynnönen (2010) cross-correlation adjustment.

    ``t_KP = t_BMP sqrt((1 - r̄) / (1 + (N - 1) r̄))`` with ``r̄`` the average
    cross-correlation of estimation-window residuals (Kolari-Pynnönen 2010,
    RFS 23(11), eq. 9), from :mod:`backtest.study.crosscorr`: calendar-date aligned
    within an event, pairs of different events uncorrelated. Null: ``t(N - 1)``.
    """
    stat, df, n = bmp(scar)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.sqrt((1.0 - rbar) / (1.0 + (n - 1.0) * rbar))
    return stat * factor, df, n


def rank_u(est_resid: np.ndarray, ar: np.ndarray) -> np.ndarray:
    """Standardized ranks ``U_it = K_it / (M_i + 1)`` over estimation + event window.

    ``K_it`` is the rank of the abnormal return of day ``t`` among the pair's
    ``M_i`` non-missing ones (ties get the average rank): Corrado-Zivney (1992).
    Returns ``(n, L1 + L2)``, NaN where missing.
    """
    return standardized_ranks(np.concatenate([np.asarray(est_resid, dtype=float),
                                              np.asarray(ar, dtype=float)], axis=1))


def corrado_rank(u: np.ndarray, windows: Sequence[tuple[int, int]],
                 include: np.ndarray | None = None) -> Stat:
    """Corrado (1989) rank test, Corrado-Zivney (1992) form; Cowan (1992) for multi-day windows.

    With ``N_t`` the pairs with a rank on day ``t`` and
    ``Ū_t = N_t^-1/2 sum_i (U_it - 1/2)``:
    ``T = sum_{t in w} Ū_t / (sqrt(L_w) S_U)``, ``S_U^2 = mean_t Ū_t^2`` over all
    estimation and event days. ``windows`` are column ranges of ``u``.
    Null: ``N(0,1)``.

    Conventions: ranks run over every estimation and event-window day of the pair
    (the tested window included), as in Corrado (1989) and Corrado-Zivney (1992); days
    without any rank are left out of ``S_U`` and of ``L_w``. With missing days each day
    enters with weight ``sqrt(N_t)`` (CZ's ``Ū_t``); Cowan's multi-day form as coded in
    Eventus, ``sqrt(L_w) (K̄_w - 1/2) / S_K̄`` with ``S_K̄^2 = mean_t (N_t/N)(K̄_t - 1/2)^2``,
    is identical when no day is missing. ``include`` ``(N, W)`` bool drops a pair's ranks
    from the window days of window ``w`` where False (its CAR is incomplete: the window
    runs past its data); ``S_U`` keeps every pair and day.
    """
    u = np.asarray(u, dtype=float)
    n_t, total = _count_sum(u - 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, total / np.sqrt(n_t), np.nan)
    have = np.isfinite(ubar)
    s_u = np.sqrt((ubar[have] ** 2).mean()) if have.any() else np.nan
    out, ns = [], []
    for j, (first, last) in enumerate(windows):
        block = ubar[first : last + 1]
        part = u[:, first : last + 1]
        if include is not None and not include[:, j].all():
            part = np.where(include[:, j : j + 1], part, np.nan)
            m_t, tot = _count_sum(part - 0.5)
            with np.errstate(invalid="ignore", divide="ignore"):
                block = np.where(m_t > 0, tot / np.sqrt(m_t), np.nan)
        ok = np.isfinite(block)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(block[ok].sum() / (np.sqrt(ok.sum()) * s_u) if ok.any() else np.nan)
        ns.append(int(np.isfinite(part).any(axis=1).sum()))
    return np.array(out), np.full(len(out), np.nan), np.array(ns)


def generalized_sign(car: np.ndarray, est_resid: np.ndarray) -> Stat:
    """Generalized sign test (Cowan 1992).

    ``Z = (w - N p̂) / sqrt(N p̂ (1 - p̂))`` with ``w`` the pairs with a positive
    CAR and ``p̂ = N^-1 sum_i M_i^-1 sum_t 1[e_it > 0]`` the share of positive
    estimation-window abnormal returns. ``p̂`` averages every pair
    of the scope with estimation ARs; for a multi-day window ``w`` counts positive
    CARs (Cowan 1992), still compared with the one-day ``p̂``. No continuity correction.
    Cowan's null for ``Z`` is ``N(0,1)``; the p-value :func:`run_tests` reports is the exact
    ``Binomial(N, p̂)`` one (:func:`binomial_p`) at every ``N`` (``O(N)`` per window,
    and the normal law is only its approximation, poor at small ``N``).
    """
    return _generalized_sign(np.asarray(car, dtype=float), positive_share(est_resid))


def positive_share(est_resid: np.ndarray) -> np.ndarray:
    """Per pair: share of positive estimation-window abnormal returns (NaN if none)."""
    e = np.asarray(est_resid, dtype=float)
    cnt = np.isfinite(e).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (e > 0).sum(axis=1) / cnt, np.nan)


def _generalized_sign(car: np.ndarray, share: np.ndarray) -> Stat:
    share = share[np.isfinite(share)]
    p_hat = share.mean() if share.size else np.nan
    n = np.isfinite(car).sum(axis=0)
    w = (car > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = (w - n * p_hat) / np.sqrt(n * p_hat * (1.0 - p_hat))
    return np.where(n >= 1, stat, np.nan), np.full(car.shape[1], np.nan), n


def wilcoxon(car: np.ndarray) -> Stat:
    """Wilcoxon (1945) signed-rank test of the CARs: the z statistic.

    Zeros are dropped; ``W+`` = sum of the ranks of ``|CAR_i|`` over positive
    CARs (average ranks for ties);
    ``z = (W+ - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 - sum(t^3 - t)/48)``,
    ``t`` the tie-group sizes. Normal null: ``N(0,1)`` (no continuity correction; same
    as ``scipy.stats.wilcoxon(method="approx")``). The p-value :func:`run_tests` reports
    is exact for ``n <= 50`` without ties or zeros (:func:`wilcoxon_exact_p`).
    """
    x = np.asarray(car, dtype=float).T  # (W, N)
    x = np.where(x != 0, x, np.nan)
    absx = np.abs(x)
    ranks = rank_rows(absx)
    n = np.isfinite(x).sum(axis=1)
    w_plus = np.where(x > 0, ranks, 0.0).sum(axis=1)
    srt = np.sort(absx, axis=1)
    tie_term = np.zeros(len(n))
    for row in np.flatnonzero(np.any(srt[:, 1:] == srt[:, :-1], axis=1)):  # only windows with ties
        _, t = np.unique(srt[row][np.isfinite(srt[row])], return_counts=True)
        tie_term[row] = (t**3 - t).sum() / 48.0
    var = n * (n + 1) * (2 * n + 1) / 24.0 - tie_term
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where((n >= 1) & (var > 0), (w_plus - n * (n + 1) / 4.0) / np.sqrt(var), np.nan)
    return stat, np.full(len(n), np.nan), n


def p_value(stat: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-value: Student t where ``df`` is finite, standard normal where NaN."""
    a, df = np.broadcast_arrays(np.abs(np.asarray(stat, dtype=float)), np.asarray(df, dtype=float))
    # the functions scipy.stats.t.sf and norm.sf call, on the cells that need each (the same
    # bits, without computing both everywhere): sf_t(a; df) = stdtr(df, -a), sf_N(a) = ndtr(-a)
    t, normal = np.isfinite(a) & np.isfinite(df), np.isfinite(a) & ~np.isfinite(df)
    if t.all():  # a table of CARs: every cell a t
        return 2.0 * special.stdtr(df, -a)
    p = np.full(a.shape, np.nan)
    p[t] = 2.0 * special.stdtr(df[t], -a[t])
    p[normal] = 2.0 * special.ndtr(-a[normal])
    return p


def null_label(df: float) -> str:
    """``"t(12)"`` for a finite df, ``"N(0,1)"`` otherwise."""
    return f"t({int(df)})" if np.isfinite(df) else "N(0,1)"


def _result(test: str, stat: np.ndarray, df: np.ndarray, n: np.ndarray, null: str,
            p: np.ndarray | None = None, nulls: list[str] | None = None,
            defer: bool = False) -> TestResult:
    """Apply the minimum N of ``test``; p from ``df`` (t or normal) unless given (or deferred)."""
    stat = np.asarray(stat, dtype=float)
    df = np.asarray(df, dtype=float)
    n = np.asarray(n).astype(int)
    short = n < MIN_N[test]
    from_df = p is None
    if from_df:
        p = np.full(stat.shape, np.nan) if defer else p_value(stat, df)
    p = np.asarray(p, dtype=float)
    if nulls is None:
        nulls = [f"t({int(v)})" if np.isfinite(v) else null for v in df]
    notes = [""] * len(n)
    if short.any():
        notes = [f"needs N >= {MIN_N[test]} (N = {k})" if s_ else "" for s_, k in zip(short, n, strict=True)]
        nulls = [null if s_ else v for s_, v in zip(short, nulls, strict=True)]
        stat, df = np.where(short, np.nan, stat), np.where(short, np.nan, df)
    p = np.where(np.isfinite(stat), p, np.nan)
    return TestResult(stat, df, n, p, nulls, notes, from_df and defer)


def run_tests(car: np.ndarray, scar: np.ndarray, df_pairs: np.ndarray, est_resid: np.ndarray,
              u: np.ndarray, windows: Sequence[tuple[int, int]], offset: int,
              unit: np.ndarray | None = None, share: np.ndarray | None = None,
              rbar: float | None = None, defer_p: bool = False,
              include: np.ndarray | None = None) -> dict[str, TestResult]:
    """All tests of one scope. ``windows`` are event-window column ranges; ``offset = L1``
    shifts them into the columns of ``u`` (estimation days first). ``unit`` and ``share``
    (:func:`unit_residuals`, :func:`positive_share`) may be precomputed for all pairs;
    ``rbar`` too (default: :func:`rbar_from_unit` on the relative day).

    P-values: Student t / normal from the statistic, except the generalized sign test
    (exact ``Binomial(N, p̂)``, :func:`binomial_p`) and Wilcoxon (exact for ``N <= 50``
    without ties or zeros, :func:`wilcoxon_exact_p`; otherwise ``N(0,1)`` with a note).
    Below a test's minimum N (:data:`MIN_N`) statistic and p-value are NaN, the null keeps
    its family (``"t(N-1)"``) and the note says why. ``defer_p`` leaves the t / normal
    p-values NaN (``p_from_df``) for the caller to compute in one vectorized call.
    ``include`` ``(N, W)``: pairs whose window is complete (see :func:`corrado_rank`).
    """
    lengths = [last - first + 1 for first, last in windows]
    car = np.asarray(car, dtype=float)
    if rbar is None:
        rbar = rbar_from_unit(unit_residuals(est_resid) if unit is None else unit)[0]
    share = positive_share(est_resid) if share is None else share
    bw = brown_warner(car, lengths, est_resid)
    out = {
        "cross_sectional_t": _result("cross_sectional_t", *cross_sectional_t(car), "t(N-1)", defer=defer_p),
        "brown_warner": _result("brown_warner", *bw, "t(T-1)", defer=defer_p),
        "patell_z": _result("patell_z", *patell_z(scar, df_pairs), "N(0,1)", defer=defer_p),
        "bmp": _result("bmp", *bmp(scar), "t(N-1)", defer=defer_p),
    }
    kp = _result("bmp_kp", *bmp_kp(scar, rbar), "t(N-1)", defer=defer_p)
    if not np.isfinite(rbar):
        kp.note[:] = [v or "r̄ undefined (needs two pairs with 30+ estimation days)" for v in kp.note]
    out["bmp_kp"] = kp
    out["corrado_rank"] = _result("corrado_rank", *corrado_rank(u, [(a + offset, b + offset)
                                                                    for a, b in windows], include),
                                  "N(0,1)",
                                  defer=defer_p)
    stat, df, n = _generalized_sign(car, share)
    valid = share[np.isfinite(share)]
    p_hat = float(valid.mean()) if valid.size else float("nan")
    p = binomial_p((car > 0).sum(axis=0), n, p_hat)
    label = f"Binomial(N, {p_hat:.3f})" if np.isfinite(p_hat) else "Binomial(N, p)"
    out["generalized_sign"] = _result("generalized_sign", stat, df, n, label, p,
                                      [label.replace("N,", f"{int(k)},") for k in n])
    stat, df, n = wilcoxon(car)
    p_exact, exact = wilcoxon_exact_p(car)
    p = np.where(exact, p_exact, p_value(stat, df))
    res = _result("wilcoxon", stat, df, n, "N(0,1)", p,
                  [f"exact Wilcoxon({int(k)})" if e else "N(0,1)" for k, e in zip(n, exact, strict=True)])
    for j, (k, e) in enumerate(zip(n, exact, strict=True)):
        if not e and 1 <= k <= WILCOXON_EXACT_MAX and not res.note[j]:
            res.note[j] = "ties or zero CARs: normal approximation"
    out["wilcoxon"] = res
    return out
