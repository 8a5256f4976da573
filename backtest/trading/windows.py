"""Cut one window of bars per event x symbol, on the exchange's session calendar.

A window runs from ``lookback`` sessions before the reaction session to
``horizon`` sessions after it: ``lookback + horizon + 1`` rows, rel_day
``-lookback .. horizon``. Rows after the end of the data are padding (flat bars
at the last close; ``Bars.n_valid`` says where they start) so every window has
the same length and all of them stack into one matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import DataError, DataWarning
from backtest.instruments import benchmark_of
from strategies.base import Bars


@dataclass(frozen=True)
class Unit:
    """One event x symbol: its window of bars and, when it has one, its benchmark's bars on the same dates."""

    event_id: str
    symbol: str
    kind: str
    benchmark: str  # "" = none
    reaction_session: pd.Timestamp
    dates: pd.DatetimeIndex  # length n_sessions; NaT on padding rows
    bars: Bars
    bench: Bars | None  # None: no benchmark, or it does not cover the window

    @property
    def rel_day(self) -> np.ndarray:
        return np.arange(len(self.bars)) - self.bars.reaction


def _sessions(
    calendars: object, calendar: str, bars: pd.DataFrame, reaction: pd.Timestamp, lookback: int, horizon: int
) -> pd.DatetimeIndex:
    if calendars is None:
        return pd.DatetimeIndex(bars.index)
    start = reaction - pd.Timedelta(days=7 * lookback + 14)
    end = reaction + pd.Timedelta(days=2 * horizon + 30)
    return calendars.sessions(calendar, start, end)


OHLC = ["open", "high", "low", "close"]


class _Bars:
    """Each symbol's dates and open/high/low/close as plain arrays, read once per symbol."""

    def __init__(self, prices: Mapping[str, pd.DataFrame]) -> None:
        self.prices = prices
        self.cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __getitem__(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        if symbol not in self.cache:
            frame = self.prices[symbol]
            ohlc = np.column_stack([frame[c].to_numpy(dtype=float) for c in OHLC])
            self.cache[symbol] = (_stamps(frame.index), ohlc)
        return self.cache[symbol]


def _stamps(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.to_numpy().astype("datetime64[ns]")


def _fit(
    bars: tuple[np.ndarray, np.ndarray], dates: pd.DatetimeIndex, n_sessions: int, gaps: list[str], label: str
) -> Bars | None:
    """Bars on ``dates``; holes filled with flat bars at the previous close; padded to ``n_sessions``."""
    stamps, ohlc = bars
    wanted = _stamps(dates)
    wanted = wanted[: np.searchsorted(wanted, stamps[-1], side="right")]  # up to the data's end
    pos = np.minimum(np.searchsorted(stamps, wanted), len(stamps) - 1)
    part = np.where((stamps[pos] == wanted)[:, None], ohlc[pos], np.nan)
    if not len(part) or np.isnan(part[0, 3]):  # window starts after the data end, or on a hole
        return None
    holes = np.isnan(part[:, 3])
    if holes.any():
        gaps.append(f"{label} {', '.join(str(d.date()) for d in dates[: len(part)][holes])}")
        seen = np.maximum.accumulate(np.where(holes, 0, np.arange(len(part))))
        close = part[seen, 3]  # the previous close, forward filled
        part = np.where(np.isnan(part), close[:, None], part)
    n_valid = len(part)
    padded = np.empty((n_sessions, 4))
    padded[:n_valid] = part
    padded[n_valid:] = part[-1, 3]
    return Bars(*padded.T.copy(), reaction=0, n_valid=n_valid)


def build_units(
    prices: Mapping[str, pd.DataFrame],
    alignment: pd.DataFrame,
    calendars: object,
    *,
    horizon: int,
    lookback: int,
    hedge: bool,
    benchmarks: Mapping[str, str] | None = None,
) -> list[Unit]:
    """One :class:`Unit` per alignment row that has data (others are skipped with one ``DataWarning``).

    ``benchmarks`` overrides the registry's benchmark per symbol (e.g. ``{"NVDA": "QQQ"}``).

    Raises
    ------
    DataError
        A symbol or a needed benchmark missing from ``prices``.
    """
    n_sessions = lookback + horizon + 1
    units: list[Unit] = []
    skipped: list[str] = []
    short: list[str] = []
    gaps: list[str] = []
    bench_short: list[str] = []
    hedge_cut: list[str] = []
    ohlc = _Bars(prices)
    for row in alignment.itertuples(index=False):
        symbol, event_id = str(row.symbol), str(row.event_id)
        if symbol not in prices:
            raise DataError(f"no prices for {symbol!r} (event {event_id}); load it with the other symbols")
        bars = prices[symbol]
        reaction = pd.Timestamp(row.reaction_session)
        sessions = _sessions(calendars, str(row.calendar), bars, reaction, lookback, horizon)
        pos = int(sessions.searchsorted(reaction))
        if pos >= len(sessions) or sessions[pos] != reaction or pos < lookback:
            skipped.append(f"{event_id}/{symbol} (reaction session {reaction.date()} not in the calendar)")
            continue
        dates = sessions[pos - lookback : pos + horizon + 1]
        window = _fit(ohlc[symbol], dates, n_sessions, gaps, symbol)
        if window is None or window.n_valid < lookback + 2:
            last = bars.index[-1].date()
            why = (
                f"prices end {last}, before the reaction session {reaction.date()}"
                if bars.index[-1] < reaction
                else f"no bar on {dates[0].date()} or {reaction.date()}"
            )
            skipped.append(f"{event_id}/{symbol} ({why})")
            continue
        bench_symbol = benchmark_of(symbol, benchmarks)
        bench = None
        if bench_symbol:
            if bench_symbol not in prices:
                raise DataError(
                    f"no prices for benchmark {bench_symbol!r} of {symbol}; "
                    f"load it with the targets (e.g. load_prices([{symbol!r}, {bench_symbol!r}]))"
                )
            bench = _fit(ohlc[bench_symbol], dates, n_sessions, gaps, bench_symbol)
            if bench is None:
                bench_short.append(f"{event_id}/{symbol}: no {bench_symbol} bar on {dates[0].date()}")
            elif bench.n_valid < window.n_valid:
                ends = f"{event_id}/{symbol}: {bench_symbol} ends {dates[bench.n_valid - 1].date()}"
                if hedge and bench.n_valid >= lookback + 2:
                    hedge_cut.append(ends)
                    window = _fit(ohlc[symbol], dates[: bench.n_valid], n_sessions, [], symbol)
                else:
                    bench_short.append(ends)
                    bench = None
        if hedge and bench is None:
            skipped.append(f"{event_id}/{symbol} (no benchmark bars to hedge with)")
            continue
        if window.n_valid < n_sessions:
            short.append(f"{event_id}/{symbol} {window.n_valid - lookback - 1}")
        pad = np.full(n_sessions - window.n_valid, None, dates.dtype)  # NaT
        full = pd.DatetimeIndex(np.concatenate([dates[: window.n_valid].to_numpy(), pad]))
        units.append(
            Unit(
                event_id,
                symbol,
                str(row.kind),
                bench_symbol,
                reaction,
                full,
                _at(window, lookback),
                None if bench is None else _at(bench, lookback),
            )
        )
    _warn(skipped, "skipped event x symbol pairs without data: {}; check the price coverage")
    _warn(
        short,
        "fewer than " + str(horizon) + " sessions of data after the reaction session for {}; "
        "their results cover only those sessions (positions still open are valued at the last close)",
    )
    _warn(gaps, "missing bars inside a window, filled flat at the previous close: {}")
    _warn(
        bench_short,
        "benchmark data do not cover the window ({}); benchmark_return and excess_vs_benchmark "
        "are NaN for these pairs",
    )
    _warn(hedge_cut, "benchmark data end inside the window ({}); the hedged rule stops at its last bar")
    return units


def _at(bars: Bars, reaction: int) -> Bars:
    return Bars(bars.open, bars.high, bars.low, bars.close, reaction=reaction, n_valid=bars.n_valid)


def _warn(items: list[str], template: str) -> None:
    if items:
        warnings.warn(template.format("; ".join(items)), DataWarning, stacklevel=3)
