"""Multiple testing: Holm and Benjamini-Hochberg adjusted p-values over the tests run.

Ten or more tests of one CAAR give ten chances to see ``p < 0.05``; the adjusted
p-values say what survives the family. The family is every test with a p-value in one
scope (an event, or a pool) and one CAR window: the question "is this CAAR zero?" asked
by each test. The adjustments are statsmodels' ``multipletests`` (``holm``, ``fdr_bh``)
computed for every family at once: families as rows of one array, one sort. Calling
``multipletests`` per family costs more than the whole study (its Holm branch runs a full
``gc.collect()`` on every call: about 0.1 s each with a study's objects alive, times
hundreds of families); the tests check the two agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: adjusted-p column -> method (statsmodels' ``multipletests`` names)
METHODS: dict[str, str] = {"p_holm": "holm", "p_bh": "fdr_bh"}


def adjust_rows(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of each row of ``p`` ``(F, m)``, a family per row; NaN stays NaN and
    is not counted.

    Holm (1979, SJS 6(2)): with ``p_(1) <= ... <= p_(m)``,
    ``p̃_(j) = max_{k <= j} min(1, (m - k + 1) p_(k))``. Benjamini-Hochberg (1995, JRSS-B
    57(1)): ``p̃_(j) = min_{k >= j} min(1, m p_(k) / k)``. ``m`` counts the row's finite
    p-values; the arithmetic is statsmodels' (``multipletests``, ``fdrcorrection``).
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))
    order = np.argsort(np.where(np.isfinite(p), p, np.inf), axis=1, kind="stable")  # NaN last
    srt = np.take_along_axis(p, order, axis=1)
    m = np.isfinite(p).sum(axis=1, keepdims=True).astype(float)
    k = np.arange(1.0, p.shape[1] + 1)[None, :]
    valid = k <= m
    if method == "holm":
        adj = np.maximum.accumulate(np.where(valid, srt * (m - k + 1.0), -np.inf), axis=1)
    elif method == "fdr_bh":
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = np.where(valid, srt / (k / m), np.inf)
        adj = np.minimum.accumulate(raw[:, ::-1], axis=1)[:, ::-1]
    else:
        raise ValueError(f"adjust_rows: unknown method {method!r}")  # internal: METHODS only
    adj = np.where(valid, np.minimum(adj, 1.0), np.nan)
    out = np.empty_like(adj)
    np.put_along_axis(out, order, adj, axis=1)
    return out


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of one family (:func:`adjust_rows` of one row).

    >>> adjust(np.array([0.01, 0.04, np.nan, 0.03]), "holm").round(4).tolist()
    [0.03, 0.06, nan, 0.06]
    >>> adjust(np.array([0.01, 0.04, np.nan, 0.03]), "fdr_bh").round(4).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    return adjust_rows(np.asarray(p, dtype=float)[None, :], method)[0]


def add_adjusted(tests: pd.DataFrame, family: tuple[str, ...] = ("scope", "window")) -> pd.DataFrame:
    """``tests`` with ``p_holm`` and ``p_bh`` columns, adjusted within each ``family`` group."""
    out = tests.copy()
    if out.empty:
        for column in METHODS:
            out[column] = np.nan
        return out
    groups = out.groupby(list(family), sort=False)
    row, col = groups.ngroup().to_numpy(), groups.cumcount().to_numpy()
    grid = np.full((int(row.max()) + 1, int(col.max()) + 1), np.nan)  # one family per row
    grid[row, col] = out["p_value"].to_numpy(dtype=float)
    for column, method in METHODS.items():
        out[column] = adjust_rows(grid, method)[row, col]
    return out
