"""Series from another exchange, time-aligned to an instrument's sessions.

A benchmark or factor that trades on another exchange (SOXX in New York for a
Seoul chip stock) closes hours apart from the instrument and keeps other
holidays. Joined by date, a Seoul session is paired with the US session of the
same date, which closes ~14 hours *after* it: the factor then "predicts" news the
stock could not yet see, and misses the US session the stock actually reacted to.

Rule (``"close"``, the default): the factor's level at instrument session ``s`` is
its close of the last factor session that closed at or before ``close(s)`` (so two
exchanges that close together, NYSE and NASDAQ, pair their same-date sessions);
its return at ``s`` is the change of that level from session ``s-1`` to ``s`` (the
factor's move between the instrument's two closes, or zero when the factor did
not trade in between). Intraday variant (``"open"``): the last factor close at or
before ``open(s)`` (what was known when the instrument opened). ``"date"`` is the naive
join on the session date. Instants come from the reconciled calendars' UTC close
and open times, not from dates. A factor session without a price row gives a
missing level, so the returns that use it are missing (the missing-price rule of
:mod:`backtest.study.returns`).

Non-synchronous trading is also handled by Dimson (1979), "Risk measurement when
shares are subject to infrequent trading", JFE 7(2), eq. 6-7: regress on the
market's lags and leads as well and sum the slopes (``dimson=1`` in
:func:`backtest.study.event_study`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

FactorAlignment = Literal["close", "open", "date"]
FACTOR_ALIGNMENTS: tuple[str, ...] = ("close", "open", "date")


def aligned_levels(close: pd.Series, source: pd.DataFrame, target: pd.DataFrame,
                   rule: FactorAlignment = "close") -> pd.Series:
    """The factor's close as of each target session (rule in the module docstring).

    Parameters
    ----------
    close : Series
        The factor's closes indexed by its session dates.
    source : DataFrame
        The factor exchange's schedule (``market_close`` in UTC, index = session date).
    target : DataFrame
        The instrument exchange's schedule (``market_open``, ``market_close`` in UTC).
    rule : {"close", "open", "date"}

    Returns
    -------
    Series
        Indexed by ``target``'s sessions; NaN before the factor's first session or where
        the factor session it falls on has no price row.

    Examples
    --------
    A Seoul session closes 06:30 UTC, before the New York session of the same date
    (20:00 UTC): it takes the previous New York close.

    >>> utc = lambda s: pd.Timestamp(s, tz="UTC")
    >>> ny = pd.DataFrame({"market_close": [utc("2026-07-01 20:00"), utc("2026-07-02 20:00")]},
    ...                   index=pd.DatetimeIndex(["2026-07-01", "2026-07-02"]))
    >>> seoul = pd.DataFrame({"market_open": [utc("2026-07-02 00:00")],
    ...                       "market_close": [utc("2026-07-02 06:30")]},
    ...                      index=pd.DatetimeIndex(["2026-07-02"]))
    >>> closes = pd.Series([100.0, 90.0], index=ny.index)
    >>> aligned_levels(closes, ny, seoul).tolist(), aligned_levels(closes, ny, seoul, "date").tolist()
    ([100.0], [90.0])
    """
    if rule == "date":
        return close.reindex(target.index)
    values = close.reindex(source.index).to_numpy(dtype=float)
    closes = pd.DatetimeIndex(source["market_close"])
    instants = pd.DatetimeIndex(target["market_close" if rule == "close" else "market_open"])
    pos = closes.searchsorted(instants, side="right") - 1  # last factor close at or before
    out = np.where(pos >= 0, values[np.clip(pos, 0, max(len(values) - 1, 0))], np.nan) if len(values) \
        else np.full(len(target), np.nan)
    return pd.Series(out, index=target.index, name=close.name)


def lagged(values: np.ndarray, pos0: np.ndarray, first: int, last: int, lag: int) -> np.ndarray:
    """Rows ``pos0 + first - lag .. pos0 + last - lag`` of a sessions x 1 column (NaN outside).

    ``lag = 1`` gives the previous session's value (``R_m,t-1``), ``lag = -1`` the next one's.

    >>> lagged(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2]), 0, 1, 1).tolist()
    [[2.0, 3.0]]
    """
    rows = pos0[:, None] + np.arange(first, last + 1)[None, :] - lag
    inside = (rows >= 0) & (rows < len(values))
    return np.where(inside, values[np.clip(rows, 0, len(values) - 1)], np.nan)
