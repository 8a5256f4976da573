"""Kolari-Pynnönen cross-correlation ``r̄`` of estimation-window abnormal returns.

``r̄`` of one event aligns the pairs' estimation residuals on calendar dates and
averages their pairwise correlations (weighted by the common dates); a scope pooling
several events counts pairs of different events as uncorrelated. Pure functions of
arrays, ``O(N L1)``: no ``N x N`` matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Fewest estimation residuals a pair needs to enter ``r̄``.
MIN_OVERLAP = 30
#: :func:`day_numbers` of NaT.
NO_DAY = np.iinfo(np.int64).min


def day_numbers(dates: np.ndarray) -> np.ndarray:
    """Dates as int64 day numbers (days since 1970-01-01; NaT -> ``NO_DAY``); ints pass through."""
    dates = np.asarray(dates)
    if np.issubdtype(dates.dtype, np.integer):
        return dates.astype(np.int64, copy=False)
    return dates.astype("datetime64[D]").view(np.int64)


def mean_residual_correlation(est_resid: np.ndarray, est_dates: np.ndarray | None = None,
                              min_days: int = MIN_OVERLAP) -> float:
    """Average pairwise correlation ``r̄`` of estimation-window abnormal returns (one event).

    Residuals are aligned on calendar dates ``est_dates`` (Kolari-Pynnönen 2010 measure
    the correlation over a common calendar period; pairs on exchanges with other day-0
    dates or holidays meet on the dates both traded), or on the relative day when no dates
    are given. Each pair is standardized on its own days, ``z_it = (e_it - ē_i) / s_i``
    (``s_i`` with divisor ``M_i``); with ``N_t`` the pairs that have date ``t``,

        ``r̄ = sum_{i != j} sum_t z_it z_jt / sum_{i != j} n_ij
            = sum_t [(sum_i z_it)^2 - sum_i z_it^2] / sum_t (N_t^2 - N_t)``,

    the mean of the pairwise correlations weighted by ``n_ij``, the dates both pairs
    have. Without missing days this is exactly the mean of the ``N(N-1)``
    off-diagonal Pearson correlations. With unequal estimation lengths (a late listing)
    each pair's correlation is measured on the days both have; counting missing days as
    zero instead would shrink the correlation of a short-history pair by about
    ``sqrt(M_i / L1)`` and understate the adjustment. A pair with fewer than ``min_days``
    residuals (default 30) is left out: too short to measure a correlation (pairs with a
    short overlap weigh little through ``n_ij``). ``O(N L1)``: no ``N x N`` matrix. NaN when
    fewer than two pairs remain or none share a date.

    Examples
    --------
    >>> e1 = np.tile([1.0, -1.0], 60)                      # 120 days, mean 0, sd 1
    >>> late = np.where(np.arange(120) >= 80, e1, np.nan)  # the same, listed on day 80
    >>> round(mean_residual_correlation(np.vstack([e1, late, e1])), 12)
    1.0
    """
    return rbar_from_unit(unit_residuals(est_resid), est_dates, min_days)[0]


def unit_residuals(est_resid: np.ndarray) -> np.ndarray:
    """Per pair: residuals standardized on the pair's own days, ``(e_it - ē_i) / s_i``.

    ``s_i^2 = sum_t (e_it - ē_i)^2 / M_i``; NaN where the residual is missing. Rows
    with fewer than two residuals or no variation are all NaN (left out of ``r̄``).
    """
    return unit_from_centred(centred_rows(est_resid))


def centred_rows(est_resid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: the residuals present, their count ``M_i``, the deviations ``e_it - ē_i``
    (0 where missing) and ``sum_t (e_it - ē_i)^2``: the one centring that ``r̄``
    (:func:`unit_from_centred`) and Brown-Warner's ``S_i^2``
    (:func:`~backtest.study.classics.pair_variance`) share."""
    e = np.asarray(est_resid, dtype=float)
    valid = np.isfinite(e)
    cnt = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, e, 0.0).sum(axis=1) / cnt
    c = np.where(valid, e - mean[:, None], 0.0)
    return valid, cnt, c, np.einsum("nl,nl->n", c, c)


def unit_from_centred(centred: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """:func:`unit_residuals` from :func:`centred_rows`."""
    have, z = unit_filled(centred)
    return np.where(have, z, np.nan)


def unit_filled(centred: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unit_residuals` as a mask of the values present and the values, 0 where absent
    (the form the day sums add up, without a NaN pass)."""
    valid, cnt, c, ss = centred
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(ss / cnt)
    ok = (cnt >= 2) & (sd > 0)
    have = valid & ok[:, None]
    return have, np.where(have, c / np.where(ok, sd, 1.0)[:, None], 0.0)


def rbar_from_unit(unit: np.ndarray, est_dates: np.ndarray | None = None,
                   min_days: int = MIN_OVERLAP) -> tuple[float, int]:
    """``r̄`` of one event from :func:`unit_residuals` rows, and the number of pairs in it.

    ``est_dates`` ``(n, L1)`` datetime64 (NaT = no session) or :func:`day_numbers` aligns
    the rows on calendar dates; ``None`` on the column (relative day). Rows with fewer than ``min_days``
    residuals are skipped (see :func:`mean_residual_correlation`).
    """
    z = np.asarray(unit, dtype=float)
    have = np.isfinite(z)
    if est_dates is not None:
        est_dates = day_numbers(est_dates)
        have &= est_dates != NO_DAY
    rows = have.sum(axis=1) >= max(min_days, 2)
    if not rows.all():
        z, have = z[rows], have[rows]
        est_dates = None if est_dates is None else est_dates[rows]
    m = int(z.shape[0])
    if m < 2:
        return float("nan"), m
    if est_dates is None:
        zz = np.where(have, z, 0.0)
        n_t = have.sum(axis=0).astype(float)
        total = zz.sum(axis=0)
        sq = float(np.einsum("nl,nl->", zz, zz))
    else:
        values = z[have]
        day = est_dates[have]
        key = day - day.min()
        n_t = np.bincount(key).astype(float)
        total = np.bincount(key, weights=values)
        sq = float(np.sum(values * values))  # no BLAS call on tiny operands
    pairs = float((n_t * (n_t - 1.0)).sum())
    if pairs <= 0:
        return float("nan"), m
    return float((np.sum(total * total) - sq) / pairs), m


def pooled_rbar(rbars: Sequence[float], counts: Sequence[int]) -> float:
    """``r̄`` of a scope pooling several events: within-event ``r̄_e``, zero across events.

    ``r̄ = sum_e m_e (m_e - 1) r̄_e / (M (M - 1))``, ``m_e`` the pairs in ``r̄_e`` and
    ``M = sum_e m_e``: the mean over all ``M (M - 1)`` ordered pairs of the correlation of
    their CARs, with pairs of different events counted as uncorrelated (an event with
    undefined ``r̄_e`` adds uncorrelated pairs). KP's ``r̄`` stands in for the correlation of
    the event-window abnormal returns; the windows of different events lie on different
    dates, so their CARs do not move together even when the estimation periods overlap
    (the same stock in two events three months apart has estimation residuals
    correlated ~1 on the common dates). Events whose windows overlap in time should share
    one ``event_id`` to be adjusted together.

    >>> round(pooled_rbar([0.5, 0.2], [2, 3]), 12)   # (2 * 0.5 + 6 * 0.2) / 20
    0.11
    """
    m = np.asarray(counts, dtype=float)
    r = np.asarray(rbars, dtype=float)
    total = m.sum()
    if total < 2:
        return float("nan")
    return float(np.where(np.isfinite(r), m * (m - 1.0) * r, 0.0).sum() / (total * (total - 1.0)))
