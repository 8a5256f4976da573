"""Row-wise ranks with average ranks for ties, over the finite entries only.

The Corrado (1989) / Corrado-Zivney (1992) rank test ranks every pair's abnormal returns
over its estimation and event windows, and Wilcoxon's signed-rank test ranks ``|CAR_i|``:
one row of a few hundred values per pair, thousands of rows per block. numpy's row-wise
argsort orders them (its sort is the fast part); one compiled pass over the order then
writes the ranks, averages tied runs and divides by ``M_i + 1`` where asked, instead of a
gather, a scatter, a check for ties, a re-rank of tied rows and a mask.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _ranks_from_order(a: np.ndarray, order: np.ndarray, standardize: bool) -> np.ndarray:  # pragma: no cover
    n, width = a.shape
    out = np.full((n, width), np.nan)
    for i in range(n):
        m = 0  # the finite entries lead the order (the rest were sorted as +inf)
        while m < width and np.isfinite(a[i, order[i, m]]):
            m += 1
        start = 0
        while start < m:
            value = a[i, order[i, start]]
            stop = start + 1
            while stop < m and a[i, order[i, stop]] == value:
                stop += 1
            rank = (start + 1 + stop) / 2.0  # positions start..stop-1 tie: their average rank
            if standardize:
                rank = rank / (m + 1.0)
            for k in range(start, stop):
                out[i, order[i, k]] = rank
            start = stop
    return out


def _ranks(a: np.ndarray, standardize: bool) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(a, dtype=float))
    if a.ndim != 2:
        raise ValueError(f"ranks: expected a 2-D array, got shape {a.shape}")  # a caller's bug
    order = np.argsort(np.where(np.isfinite(a), a, np.inf), axis=1)
    return _ranks_from_order(a, order, standardize)


def rank_rows(a: np.ndarray) -> np.ndarray:
    """Ranks ``1..M_i`` along each row among its ``M_i`` finite entries (average ranks for
    ties, as ``scipy.stats.rankdata(..., nan_policy="omit")``), NaN elsewhere.

    >>> rank_rows(np.array([[3.0, np.nan, 1.0, 3.0]])).tolist()
    [[2.5, nan, 1.0, 2.5]]
    """
    return _ranks(a, False)


def standardized_ranks(a: np.ndarray) -> np.ndarray:
    """``U_it = K_it / (M_i + 1)``: :func:`rank_rows` divided by one plus the row's count of
    finite entries (Corrado-Zivney 1992), in the same pass."""
    return _ranks(a, True)
