"""What a block of recovery pairs reads, indexed once per block and cut per pair with ``searchsorted``.

:func:`~backtest.recovery.analysis.measure_pairs` measures thousands of event x symbol
pairs; asking pandas for each pair's sessions, closes and abnormal returns costs
O(pairs x rows). Here each input is turned into sorted numpy arrays once:

* :class:`Closes`: one instrument's closes (dates as int64 nanoseconds), with the closes
  that are not NaN apart, so the last close before a date is one ``searchsorted``;
* :class:`BlockSessions`: one ``calendars.sessions`` call per calendar covering the whole
  block, and each pair's window (day -1 .. horizon) as a contiguous slice of it;
* :class:`StudyARs`: the event study's abnormal returns grouped by (event_id, symbol) once;
* :class:`PathColumns`: the block's day-by-day paths gathered as arrays and framed once.

Every piece returns exactly what the per-pair pandas code returned (same values, same
dates), so the recovery table does not change by a byte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import CalendarError, DataError

LOOKBACK = pd.Timedelta(days=40)  # calendar days searched for day -1 (longest closures are ~1 week)


def as_ns(dates: Any) -> np.ndarray:
    """Dates as int64 nanoseconds since the epoch (comparable whatever their unit)."""
    return np.asarray(dates, dtype="datetime64[ns]").view("int64")


def carried(values: np.ndarray, prior: float) -> np.ndarray:
    """NaNs replaced by the last earlier value, ``prior`` before the first (pandas ``ffill``).

    >>> carried(np.array([np.nan, 2.0, np.nan, 4.0]), 1.0)
    array([1., 2., 2., 4.])
    """
    seen = np.maximum.accumulate(np.where(np.isnan(values), -1, np.arange(values.size)))
    return np.where(seen >= 0, values[np.maximum(seen, 0)], prior)


@dataclass(frozen=True)
class Closes:
    """One instrument's closes as sorted arrays: every row, and the rows with a close."""

    dates: np.ndarray  # int64 ns, ascending
    close: np.ndarray
    seen_dates: np.ndarray  # rows whose close is not NaN
    seen_close: np.ndarray
    first: pd.Timestamp  # first and last date with a close (the index's own unit)
    last: pd.Timestamp

    @classmethod
    def of(cls, symbol: str, bars: pd.DataFrame | None) -> Closes | None:
        """The arrays of ``bars`` (None without any close)."""
        if bars is None or "close" not in bars.columns:
            return None
        close = bars["close"].astype(float)
        if not close.index.is_monotonic_increasing:
            close = close.sort_index(kind="stable")
        if not close.index.is_unique:
            raise DataError(f"symbol {symbol!r}: its bars repeat a date; drop the duplicate rows first")
        dates, values = as_ns(close.index), close.to_numpy(dtype=float)
        seen = ~np.isnan(values)
        if not seen.any():
            return None
        stamps = close.index[seen]
        return cls(dates, values, dates[seen], values[seen], stamps[0], stamps[-1])

    def on(self, dates: np.ndarray) -> tuple[np.ndarray, float]:
        """Closes on ``dates`` (int64 ns; NaN where no row) and the last close before ``dates[0]``."""
        if dates.size == 0:
            return np.array([]), math.nan
        at = np.minimum(np.searchsorted(self.dates, dates), self.dates.size - 1)
        values = np.where(self.dates[at] == dates, self.close[at], math.nan)
        before = int(np.searchsorted(self.seen_dates, dates[0])) - 1
        return values, float(self.seen_close[before]) if before >= 0 else math.nan


class BlockSessions:
    """Sessions of each calendar over a block's span, fetched once; windows are slices of them."""

    def __init__(self, calendars: Any, spans: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]]) -> None:
        self._calendars, self._spans = calendars, spans
        self._sessions: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _of(self, calendar: str) -> tuple[np.ndarray, np.ndarray]:
        if calendar not in self._sessions:
            lo, hi = self._spans[calendar]
            sessions = pd.DatetimeIndex(self._calendars.sessions(calendar, lo, hi))
            self._sessions[calendar] = (sessions.values, as_ns(sessions.values))
        return self._sessions[calendar]

    def window(self, calendar: str, reaction: pd.Timestamp, last_date: pd.Timestamp,
               horizon: int) -> tuple[np.ndarray, bool]:
        """Sessions from day -1 to min(horizon, last data date) (datetime64); flag = day 0 exists.

        The same sessions as ``calendars.sessions(calendar, reaction - LOOKBACK,
        max(last_date, reaction))`` cut to the window, as one slice of the block's sessions.
        """
        values, ns = self._of(calendar)
        react, last = reaction.value, last_date.value
        lo = int(np.searchsorted(ns, (reaction - LOOKBACK).value))
        at = int(np.searchsorted(ns, react))  # day 0 when it is a session
        if reaction <= last_date and not (at < ns.size and ns[at] == react):
            raise CalendarError(
                f"reaction session {reaction.date()} is not a session of {calendar}; "
                "rebuild the alignment with backtest.alignment.align_symbols on the same calendars"
            )
        if at == lo:
            raise CalendarError(
                f"{calendar}: no session in the {LOOKBACK.days} days before {reaction.date()}; "
                "the calendar does not reach day -1 of this event"
            )
        if ns[at - 1] > last:  # the data end before day -1: nothing of the window exists
            return values[:0], False
        n_after = min(max(int(np.searchsorted(ns, last, side="right")) - at, 0), horizon + 1)
        return values[at - 1: at + n_after], n_after > 0


def block_spans(reactions: list[pd.Timestamp], calendars: list[str], lasts: list[pd.Timestamp | None]
                ) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Per calendar, the dates every pair's window search covers: (earliest day -1 searched, latest end)."""
    spans: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
    for reaction, calendar, last in zip(reactions, calendars, lasts, strict=True):
        hi = reaction if last is None else max(last, reaction)
        lo0, hi0 = spans.get(calendar, (reaction - LOOKBACK, hi))
        spans[calendar] = (min(lo0, reaction - LOOKBACK), max(hi0, hi))
    return spans


class StudyARs:
    """An event study's abnormal returns, grouped by (event_id, symbol) once for a block."""

    def __init__(self, ars: pd.DataFrame, column: str) -> None:
        self._groups = ars.groupby([ars["event_id"].astype(str), ars["symbol"]], sort=False).indices
        self._rel = ars["rel_day"].to_numpy()
        self._ar = ars[column].astype(float).to_numpy()
        self._missing = (ars["missing"].fillna(True).astype(bool).to_numpy() if "missing" in ars.columns
                         else None)
        self._benchmark = ars["benchmark"].to_numpy() if "benchmark" in ars.columns else None

    def rows(self, event_id: str, symbol: str) -> np.ndarray | None:
        """Positions of the pair's rows (None when the study has none)."""
        return self._groups.get((event_id, symbol))

    def benchmark(self, rows: np.ndarray) -> str | None:
        """The benchmark the study used for the pair (None when the study does not say)."""
        return None if self._benchmark is None else str(self._benchmark[rows[0]])

    def level(self, rows: np.ndarray, n_dates: int) -> tuple[np.ndarray, str]:
        """``1 + CAR(0, k)`` from the pair's ARs on a window of ``n_dates`` dates, and why it ends early.

        Missing ARs inside the path are carried forward (NaN level); a trailing run of
        missing ARs (e.g. the benchmark's data ended) is the end of the data, not a gap.
        """
        post = rows[self._rel[rows] >= 0]
        rel = self._rel[post].astype(np.int64)
        last = int(rel.max()) if rel.size else -1
        n_post = n_dates - 1
        keep = min(n_post, last + 1)
        reason = "study_window" if keep < n_post else "end_of_data"
        inside = rel < keep
        ar = np.full(max(keep, 0), math.nan)
        ar[rel[inside]] = self._ar[post[inside]]
        missing = np.isnan(ar)
        if self._missing is not None:
            flagged = np.ones(ar.size, dtype=bool)
            flagged[rel[inside]] = self._missing[post[inside]]
            missing = missing | flagged
        valid = np.flatnonzero(~missing)
        if valid.size < keep and (valid.size == 0 or valid[-1] < keep - 1):
            keep, reason = (int(valid[-1]) + 1 if valid.size else 0), "end_of_data"
        level = 1.0 + np.cumsum(np.nan_to_num(ar[:keep], nan=0.0))
        level[missing[:keep]] = math.nan
        return np.concatenate([[1.0], level]), reason


PATH_COLUMNS: tuple[str, ...] = ("event_id", "symbol", "rel_day", "date", "close", "missing", "rebased",
                                 "cum_ar")


class PathColumns:
    """The day-by-day paths of a block, gathered as arrays and framed once (one row per pair x day)."""

    def __init__(self) -> None:
        self.ids: list[tuple[str, str]] = []
        self.dates: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.priors: list[float] = []
        self.pre: list[float] = []
        self.levels: list[np.ndarray | None] = []

    def add(self, event_id: str, symbol: str, dates: np.ndarray, values: np.ndarray, prior: float,
            pre_event_close: float, level: np.ndarray | None) -> None:
        self.ids.append((event_id, symbol))
        self.dates.append(dates)
        self.values.append(values)
        self.priors.append(prior)
        self.pre.append(pre_event_close)
        self.levels.append(level)

    def frames(self) -> list[pd.DataFrame]:
        """``[paths]`` (close carried forward, rebased to 100 on day -1, ``cum_ar = CAR(0, k)``), or []."""
        if not self.ids:
            return []
        lengths = np.array([d.size for d in self.dates])
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        values = np.concatenate(self.values)
        close = np.concatenate([carried(v, p) for v, p in zip(self.values, self.priors, strict=True)])
        cum_ar = np.full(values.size, math.nan)
        for start, level in zip(np.cumsum(lengths) - lengths, self.levels, strict=True):
            if level is not None:
                cum_ar[start: start + level.size] = carried(level, 1.0) - 1.0
        ids = np.array(self.ids, dtype=object).reshape(-1, 2)
        return [pd.DataFrame({
            "event_id": np.repeat(ids[:, 0], lengths), "symbol": np.repeat(ids[:, 1], lengths),
            "rel_day": np.arange(values.size) - starts - 1, "date": np.concatenate(self.dates),
            "close": close, "missing": ~np.isfinite(values),
            "rebased": close / np.repeat(self.pre, lengths) * 100.0, "cum_ar": cum_ar,
        })]
