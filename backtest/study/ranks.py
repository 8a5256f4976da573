"""Row-wise ranks with average ranks for ties, over the finite entries only.

The Corrado (1989) / Corrado-Zivney (1992) rank test ranks every pair's abnormal returns
over its estimation and event windows, and Wilcoxon's signed-rank test ranks ``|CAR_i|``:
one row of a few hundred values per pair, thousands of rows per block.

Two ways to the same ranks, bit for bit (tests hold both to ``scipy.stats.rankdata``):

- A small job (the default one: tens of pairs): a stable argsort per row in numpy, then each
  run of equal values gets the average of its positions. No numba: importing it and loading
  its cached code costs about 0.6 s, some hundred times these arrays' ranking.
- A large job, once it has ranked :data:`NUMPY_BUDGET` entries in numpy
  (:mod:`backtest.study.ranks_compiled`): numpy's value sort is vectorized (SIMD)
  where its argsort is not (about 3x slower on AVX2; 4-7x for the whole pass). So each entry
  becomes one int64 key, its value's bits mapped to an order-preserving integer with the low
  bits replaced by its column, and the keys are sorted as values. That order is exact except
  among values equal in all but those low bits; one compiled pass restores the exact order
  (an insertion sort, linear on such nearly sorted rows), then writes the ranks, averages
  tied runs and divides by ``M_i + 1`` where asked.
"""

from __future__ import annotations

import numpy as np

#: Entries ranked in numpy in this process before the compiled pass takes over: about what
#: numba costs to import and load (0.6 s) in numpy's time (4-7x the compiled pass's). A job
#: rents until the rent would have bought the compiled pass (ski rental: never more than twice
#: the cheaper choice); the default job's ranks (300,000 entries) never reach it.
NUMPY_BUDGET = 2**22
_ranked_in_numpy = 0


def _ranks(a: np.ndarray, standardize: bool) -> np.ndarray:
    global _ranked_in_numpy
    a = np.ascontiguousarray(np.asarray(a, dtype=float))
    if a.ndim != 2:
        raise ValueError(f"ranks: expected a 2-D array, got shape {a.shape}")  # a caller's bug
    if _ranked_in_numpy + a.size <= NUMPY_BUDGET:
        _ranked_in_numpy += a.size
        return _ranks_sorted(a, standardize)
    from backtest.study import ranks_compiled

    return ranks_compiled.ranks(a, standardize)


def _ranks_sorted(a: np.ndarray, standardize: bool) -> np.ndarray:
    """The numpy way: missing entries sort last; a run of equal values from position ``first``
    to ``stop - 1`` (0-based) gets the rank ``(first + 1 + stop) / 2``, their average."""
    n, width = a.shape
    finite = np.isfinite(a)
    count = finite.sum(axis=1)[:, None]
    keyed = np.where(finite, a, np.inf)
    order = np.argsort(keyed, axis=1, kind="stable")
    values = np.take_along_axis(keyed, order, axis=1)
    position = np.arange(width)
    starts = np.ones((n, width), dtype=bool)
    np.not_equal(values[:, 1:], values[:, :-1], out=starts[:, 1:])
    ends = np.ones((n, width), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    stop = np.minimum.accumulate(np.where(ends, position + 1, width)[:, ::-1], axis=1)[:, ::-1]
    ranked = (first + 1 + stop) / 2.0
    if standardize:
        ranked /= count + 1.0
    ranked[position >= count] = np.nan
    out = np.empty_like(ranked)
    np.put_along_axis(out, order, ranked, axis=1)
    return out


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
