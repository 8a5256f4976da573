"""Closes of each event x symbol and of its benchmark on the symbol's own sessions.

The one input of the raw-return tables that the event study does not keep: the
symbol's adjusted close on every session from the day before the earliest window to
the recovery horizon, and its market benchmark's close on the same dates. ``backtest
run`` stores this table (``session_closes``) in ``results.json`` so that ``backtest
tables`` rebuilds the raw returns for any window inside that range without the prices.

The benchmark may trade on another calendar (an override such as NVDA against ^N225):
on a session where it has no row, its last earlier close stands in and
``benchmark_date`` says which date it is (no close after the benchmark's last row).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from backtest.alignment import window_sessions
from backtest.instruments import benchmark_of

CLOSE_COLUMNS: tuple[str, ...] = (
    "event_id", "symbol", "benchmark", "rel_day", "date", "close", "benchmark_close", "benchmark_date",
)  # fmt: skip


def _asof(bars: pd.DataFrame | None, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Last close on or before each date (NaN before the first row and after the last one)."""
    if bars is None or bars.empty:
        return np.full(len(dates), np.nan), np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]")
    close = bars["close"].astype(float).dropna()
    position = close.index.searchsorted(dates, side="right") - 1
    inside = (position >= 0) & (dates <= close.index[-1])
    safe = np.clip(position, 0, None)
    values = np.where(inside, close.to_numpy()[safe], np.nan)
    stamps = np.where(inside, close.index.to_numpy(dtype="datetime64[ns]")[safe], np.datetime64("NaT"))
    return values, stamps.astype("datetime64[ns]")


def session_closes(
    prices: Mapping[str, pd.DataFrame],
    alignment: pd.DataFrame,
    calendars: object,
    first_day: int,
    last_day: int,
    benchmarks: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Tidy closes per event x symbol x relative day, with the benchmark's on the same dates.

    Parameters
    ----------
    prices : mapping of symbol to bars
        Bars with an adjusted ``close``, indexed by session date (targets and benchmarks).
    alignment : DataFrame
        ``align_symbols`` output (event_id, symbol, calendar, reaction_session).
    calendars : ExchangeCalendars
        The reconciled calendars the alignment was built on.
    first_day, last_day : int
        Relative days kept, e.g. ``-2`` (the base close of a ``[-1,+1]`` window) to ``60``.
    benchmarks : mapping, optional
        Benchmark overrides (symbol -> benchmark); default the instrument registry's.

    Returns
    -------
    DataFrame
        :data:`CLOSE_COLUMNS`: ``close`` is NaN where the symbol has no row on the session
        (a halt, before its listing, after its data); ``benchmark_close`` is the
        benchmark's last close on or before ``date`` (``benchmark_date``).
    """
    frames = []
    for row in alignment.itertuples(index=False):
        if pd.isna(row.reaction_session):
            continue
        symbol = str(row.symbol)
        days = window_sessions(calendars, str(row.calendar), pd.Timestamp(row.reaction_session),
                               first_day, last_day)  # fmt: skip
        dates = pd.DatetimeIndex(days["date"])
        bars = prices.get(symbol)
        close = (
            np.full(len(dates), np.nan)
            if bars is None
            else bars["close"].astype(float).reindex(dates).to_numpy(dtype=float)
        )
        benchmark = benchmark_of(symbol, benchmarks)
        bench_close, bench_date = _asof(prices.get(benchmark) if benchmark else None, dates)
        columns = {
            "event_id": str(row.event_id), "symbol": symbol, "benchmark": benchmark,
            "rel_day": days["rel_day"].to_numpy(dtype=np.int64), "date": dates,
            "close": close, "benchmark_close": bench_close, "benchmark_date": bench_date,
        }  # fmt: skip
        frames.append(pd.DataFrame(columns))
    if not frames:
        return pd.DataFrame({column: [] for column in CLOSE_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["date"] = pd.DatetimeIndex(out["date"]).astype("datetime64[ns]")
    out["benchmark_date"] = pd.DatetimeIndex(out["benchmark_date"]).astype("datetime64[ns]")
    return out[list(CLOSE_COLUMNS)]
