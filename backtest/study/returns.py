"""Daily returns from adjusted closes on an exchange's own reconciled sessions.

Missing-price rule (one rule, everywhere): the return of session ``t`` is
``close_t / close_{t-1} - 1`` (simple) or ``ln(close_t / close_{t-1})`` (log)
where ``t-1`` is the previous session of the instrument's exchange calendar.
When either close is missing (a halt, a one-sided holiday, before the listing,
after the data end) the return of ``t`` is missing: it is neither filled with
zero nor lumped into the next observed return. Missing returns are left out of
the estimation; in the event window their AR is NaN, flagged ``missing`` and
counted (``n_missing``). A gap inside the data (a halt) is left out of the CAR,
whose variance counts only the days with an AR; a CAR window that runs past the
pair's data (before its first or after its last return) or whose day 0 has no AR
is NaN with ``complete = False`` (:func:`backtest.study.models.window_complete`).
Price rows on dates that are not sessions are ignored (the calendar reconciliation
reports them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

ReturnKind = Literal["simple", "log"]


def session_returns(close: pd.Series, sessions: pd.DatetimeIndex,
                    kind: ReturnKind = "simple") -> pd.Series:
    """Close-to-close returns of ``close`` on ``sessions`` (missing-price rule above).

    Parameters
    ----------
    close : Series
        Adjusted closes indexed by session date.
    sessions : DatetimeIndex
        The exchange's reconciled sessions, ascending.
    kind : {"simple", "log"}

    Returns
    -------
    Series
        Indexed by ``sessions``; NaN where the rule gives no return (always the first).

    Examples
    --------
    >>> s = pd.DatetimeIndex(["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07"])
    >>> close = pd.Series([100.0, 110.0, 121.0], index=s[[0, 1, 3]])   # no row on 01-06
    >>> session_returns(close, s).round(4).tolist()
    [nan, 0.1, nan, nan]
    """
    values = close.reindex(sessions).to_numpy(dtype=float)
    values = np.where(values > 0, values, np.nan)
    out = np.full(len(values), np.nan)
    if len(values) > 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = values[1:] / values[:-1]
            out[1:] = np.log(ratio) if kind == "log" else ratio - 1.0
    return pd.Series(out, index=sessions, name=close.name)


def returns_panel(prices: Mapping[str, pd.DataFrame], symbols: Sequence[str],
                  sessions: pd.DatetimeIndex, kind: ReturnKind = "simple") -> pd.DataFrame:
    """Sessions x symbols returns from each symbol's ``close`` column (see :func:`session_returns`)."""
    return pd.DataFrame(
        {symbol: session_returns(prices[symbol]["close"], sessions, kind).to_numpy() for symbol in symbols},
        index=sessions,
    )
