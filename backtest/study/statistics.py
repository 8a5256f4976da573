"""Cross-sectional significance tests of abnormal returns (one scope = one set of pairs).

Every test takes arrays for the ``N`` pairs of one scope (an event, or all
events) and ``W`` windows, and returns the statistic, its degrees of freedom
(NaN for a normal null) and the number of pairs used, each shaped ``(W,)``.
A one-day window ``[t, t]`` gives the AAR version of a test, a longer one the
CAAR version. P-values are two-sided. Inputs are pure arrays; NaN = missing.

Notation: ``CAR_i`` cumulative abnormal return of pair ``i`` over the window
(``L_w`` days); ``SCAR_i = CAR_i / sqrt(Var(CAR_i))`` with the full
prediction-error variance; ``df_i`` the residual degrees of freedom of pair
``i``'s model; ``e_it`` its estimation-window abnormal returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

TESTS: tuple[str, ...] = (
    "cross_sectional_t", "brown_warner", "patell_z", "bmp", "bmp_kp",
    "corrado_rank", "generalized_sign", "wilcoxon",
)
Stat = tuple[np.ndarray, np.ndarray, np.ndarray]  # statistic, df, n — each (W,)


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


def mean_residual_correlation(est_resid: np.ndarray) -> float:
    """Average pairwise correlation ``r̄`` of estimation-window abnormal returns.

    Residuals are aligned on the relative estimation day and standardized per pair
    on its own days, ``z_it = (e_it - ē_i) / s_i`` (``s_i`` with divisor ``M_i``);
    with ``N_t`` the pairs that have day ``t``,

        ``r̄ = sum_{i != j} sum_t z_it z_jt / sum_{i != j} n_ij
            = sum_t [(sum_i z_it)^2 - sum_i z_it^2] / sum_t (N_t^2 - N_t)``,

    the mean of the pairwise correlations weighted by ``n_ij``, the days both pairs
    have. Without missing days this is exactly the mean of the ``N(N-1)``
    off-diagonal Pearson correlations (Kolari-Pynnönen 2010 assume a common window).
    With unequal estimation lengths (a late listing) each pair's correlation is
    measured on the days both have; counting missing days as zero instead would
    shrink the correlation of a short-history pair by about ``sqrt(M_i / L1)`` and
    understate the adjustment. ``O(N L1)``: no ``N x N`` matrix. NaN for ``N < 2``.

    Examples
    --------
    >>> e1 = np.tile([1.0, -1.0], 60)                      # 120 days, mean 0, sd 1
    >>> late = np.where(np.arange(120) >= 80, e1, np.nan)  # the same, listed on day 80
    >>> round(mean_residual_correlation(np.vstack([e1, late, e1])), 12)
    1.0
    """
    return rbar_from_unit(unit_residuals(est_resid))


def unit_residuals(est_resid: np.ndarray) -> np.ndarray:
    """Per pair: residuals standardized on the pair's own days, ``(e_it - ē_i) / s_i``.

    ``s_i^2 = sum_t (e_it - ē_i)^2 / M_i``; NaN where the residual is missing. Rows
    with fewer than two residuals or no variation are all NaN (left out of ``r̄``).
    """
    e = np.asarray(est_resid, dtype=float)
    valid = np.isfinite(e)
    cnt = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, e, 0.0).sum(axis=1) / cnt
        c = np.where(valid, e - mean[:, None], 0.0)
        sd = np.sqrt(np.einsum("nl,nl->n", c, c) / cnt)
        ok = (cnt >= 2) & (sd > 0)
        z = np.where(valid, c / np.where(ok, sd, 1.0)[:, None], np.nan)
        return np.where(ok[:, None], z, np.nan)


def rbar_from_unit(unit: np.ndarray) -> float:
    """``r̄`` from :func:`unit_residuals` rows (all-NaN rows skipped)."""
    z = np.asarray(unit, dtype=float)
    have = np.isfinite(z)
    z, have = z[have.any(axis=1)], have[have.any(axis=1)]
    if z.shape[0] < 2:
        return float("nan")
    zz = np.where(have, z, 0.0)
    n_t = have.sum(axis=0).astype(float)
    pairs = float((n_t * (n_t - 1.0)).sum())
    if pairs <= 0:
        return float("nan")
    total = zz.sum(axis=0)
    return float((total @ total - np.einsum("nl,nl->", zz, zz)) / pairs)


def bmp_kp(scar: np.ndarray, rbar: float) -> Stat:
    """BMP test with the Kolari-Pynnönen (2010) cross-correlation adjustment.

    ``t_KP = t_BMP sqrt((1 - r̄) / (1 + (N - 1) r̄))`` with ``r̄`` the average
    cross-correlation of estimation-window residuals (Kolari-Pynnönen 2010,
    RFS 23(11), eq. 9). Null: ``t(N - 1)``.
    """
    stat, df, n = bmp(scar)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.sqrt((1.0 - rbar) / (1.0 + (n - 1.0) * rbar))
    return stat * factor, df, n


def rank_rows(a: np.ndarray) -> np.ndarray:
    """Ranks ``1..M_i`` along each row (average ranks for ties), NaN where ``a`` is NaN.

    One sort per row; rows with ties are re-ranked exactly with ``scipy.stats.rankdata``.
    """
    a = np.asarray(a, dtype=float)
    valid = np.isfinite(a)
    order = np.argsort(np.where(valid, a, np.inf), axis=1)
    srt = np.take_along_axis(a, order, axis=1)
    ranks = np.empty_like(a)
    ranks[np.arange(a.shape[0])[:, None], order] = np.arange(1.0, a.shape[1] + 1)
    tied = np.any(srt[:, 1:] == srt[:, :-1], axis=1)
    if tied.any():
        ranks[tied] = stats.rankdata(np.where(valid[tied], a[tied], np.nan), axis=1, nan_policy="omit")
    return np.where(valid, ranks, np.nan)


def rank_u(est_resid: np.ndarray, ar: np.ndarray) -> np.ndarray:
    """Standardized ranks ``U_it = K_it / (M_i + 1)`` over estimation + event window.

    ``K_it`` is the rank of the abnormal return of day ``t`` among the pair's
    ``M_i`` non-missing ones (ties get the average rank): Corrado-Zivney (1992).
    Returns ``(n, L1 + L2)``, NaN where missing.
    """
    a = np.concatenate([np.asarray(est_resid, dtype=float), np.asarray(ar, dtype=float)], axis=1)
    m = np.isfinite(a).sum(axis=1)
    return rank_rows(a) / (m[:, None] + 1.0)


def corrado_rank(u: np.ndarray, windows: Sequence[tuple[int, int]]) -> Stat:
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
    is identical when no day is missing.
    """
    u = np.asarray(u, dtype=float)
    n_t, total = _count_sum(u - 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, total / np.sqrt(n_t), np.nan)
    have = np.isfinite(ubar)
    s_u = np.sqrt((ubar[have] ** 2).mean()) if have.any() else np.nan
    out, ns = [], []
    for first, last in windows:
        block = ubar[first : last + 1]
        ok = np.isfinite(block)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(block[ok].sum() / (np.sqrt(ok.sum()) * s_u) if ok.any() else np.nan)
        ns.append(int(np.isfinite(u[:, first : last + 1]).any(axis=1).sum()))
    return np.array(out), np.full(len(out), np.nan), np.array(ns)


def generalized_sign(car: np.ndarray, est_resid: np.ndarray) -> Stat:
    """Generalized sign test (Cowan 1992).

    ``Z = (w - N p̂) / sqrt(N p̂ (1 - p̂))`` with ``w`` the pairs with a positive
    CAR and ``p̂ = N^-1 sum_i M_i^-1 sum_t 1[e_it > 0]`` the share of positive
    estimation-window abnormal returns. Null: ``N(0,1)``. ``p̂`` averages every pair
    of the scope with estimation ARs; for a multi-day window ``w`` counts positive
    CARs (Cowan 1992), still compared with the one-day ``p̂``. No continuity correction.
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
    """Wilcoxon (1945) signed-rank test of the CARs, normal approximation.

    Zeros are dropped; ``W+`` = sum of the ranks of ``|CAR_i|`` over positive
    CARs (average ranks for ties);
    ``z = (W+ - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 - sum(t^3 - t)/48)``,
    ``t`` the tie-group sizes. Null: ``N(0,1)`` (no continuity correction; same
    as ``scipy.stats.wilcoxon(method="approx")``).
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
    stat = np.asarray(stat, dtype=float)
    df = np.asarray(df, dtype=float)
    a = np.abs(stat)
    with np.errstate(invalid="ignore"):
        p_t = 2.0 * stats.t.sf(a, np.where(np.isfinite(df), df, 1.0))
    p = np.where(np.isfinite(df), p_t, 2.0 * stats.norm.sf(a))
    return np.where(np.isfinite(stat), p, np.nan)


def null_label(df: float) -> str:
    """``"t(12)"`` for a finite df, ``"N(0,1)"`` otherwise."""
    return f"t({int(df)})" if np.isfinite(df) else "N(0,1)"


def run_tests(car: np.ndarray, scar: np.ndarray, df_pairs: np.ndarray, est_resid: np.ndarray,
              u: np.ndarray, windows: Sequence[tuple[int, int]], offset: int,
              unit: np.ndarray | None = None, share: np.ndarray | None = None) -> dict[str, Stat]:
    """All tests of one scope. ``windows`` are event-window column ranges; ``offset = L1``
    shifts them into the columns of ``u`` (estimation days first). ``unit`` and ``share``
    (:func:`unit_residuals`, :func:`positive_share`) may be precomputed for all pairs."""
    lengths = [last - first + 1 for first, last in windows]
    rbar = rbar_from_unit(unit_residuals(est_resid) if unit is None else unit)
    share = positive_share(est_resid) if share is None else share
    return {
        "cross_sectional_t": cross_sectional_t(car),
        "brown_warner": brown_warner(car, lengths, est_resid),
        "patell_z": patell_z(scar, df_pairs),
        "bmp": bmp(scar),
        "bmp_kp": bmp_kp(scar, rbar),
        "corrado_rank": corrado_rank(u, [(a + offset, b + offset) for a, b in windows]),
        "generalized_sign": _generalized_sign(np.asarray(car, dtype=float), share),
        "wilcoxon": wilcoxon(car),
    }
