"""Multiple testing: Holm and Benjamini-Hochberg adjusted p-values over the tests run.

Ten or more tests of one CAAR give ten chances to see ``p < 0.05``; the adjusted
p-values say what survives the family. The family is every test with a p-value in one
scope (an event, or a pool) and one CAR window: the question "is this CAAR zero?" asked
by each test. The adjustment itself is statsmodels' ``multipletests``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: adjusted-p column -> statsmodels method
METHODS: dict[str, str] = {"p_holm": "holm", "p_bh": "fdr_bh"}


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of one family; NaN entries stay NaN and are not counted.

    Holm (1979, SJS 6(2)): with ``p_(1) <= ... <= p_(m)``,
    ``p̃_(j) = max_{k <= j} min(1, (m - k + 1) p_(k))``. Benjamini-Hochberg (1995, JRSS-B
    57(1)): ``p̃_(j) = min_{k >= j} min(1, m p_(k) / k)``.

    >>> adjust(np.array([0.01, 0.04, np.nan, 0.03]), "holm").round(4).tolist()
    [0.03, 0.06, nan, 0.06]
    >>> adjust(np.array([0.01, 0.04, np.nan, 0.03]), "fdr_bh").round(4).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def add_adjusted(tests: pd.DataFrame, family: tuple[str, ...] = ("scope", "window")) -> pd.DataFrame:
    """``tests`` with ``p_holm`` and ``p_bh`` columns, adjusted within each ``family`` group."""
    out = tests.copy()
    for column in METHODS:
        out[column] = np.nan
    if out.empty:
        return out
    for _, idx in out.groupby(list(family), sort=False).indices.items():
        p = out["p_value"].to_numpy(dtype=float)[idx]
        for column, method in METHODS.items():
            out.iloc[idx, out.columns.get_loc(column)] = adjust(p, method)
    return out
