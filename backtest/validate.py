"""Validate daily bars before any source hands them out.

Two checks, both cheap:

- :func:`validate_bars` (errors): the frame has the common bar shape, sessions
  are ascending and unique, prices are finite and positive, and every row is a
  possible bar, ``high >= max(open, close)`` and ``low <= min(open, close)``.
- :func:`check_calendar` (warnings): rows on dates that are not sessions of
  the instrument's exchange calendar (pandas-market-calendars) are reported as
  one :class:`~backtest.errors.DataWarning`; the data are still returned.

Example
-------
>>> import pandas as pd
>>> bars = pd.DataFrame(
...     {"open": [10.0, 11.0], "high": [11.0, 11.5], "low": [9.5, 10.0],
...      "close": [10.5, 10.0], "volume": [100.0, float("nan")]},
...     index=pd.DatetimeIndex(["2025-01-24", "2025-01-27"], name="date"))
>>> validate_bars(bars, "NVDA", "NVDA.csv") is bars
True
>>> bad = bars.assign(high=[11.0, 10.5])
>>> validate_bars(bad, "NVDA", "NVDA.csv")
Traceback (most recent call last):
...
backtest.errors.DataError: NVDA.csv: NVDA 2025-01-27: high 10.5 is below max(open, close) = 11; ...
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np
import pandas as pd

from backtest.errors import DataError, DataWarning, where
from backtest.sources import BAR_COLUMNS

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")

#: Relative tolerance of the high/low checks. Adjusted prices are the raw ones
#: times a factor and are often stored rounded (4 decimals in the snapshot), so
#: ``high`` may sit a rounding step below ``close``; 1e-6 of the price allows
#: that and nothing a real data error would produce.
REL_TOL: float = 1e-6

_MAX_LISTED = 5


def _location(origin: object, first_line: int | Sequence[int] | None, position: int) -> str:
    if first_line is None:
        return where(origin)
    if isinstance(first_line, int):
        return where(origin, first_line + position)
    return where(origin, int(first_line[position]))


def validate_bars(
    frame: pd.DataFrame, symbol: str, origin: object, *, first_line: int | Sequence[int] | None = None
) -> pd.DataFrame:
    """Check that ``frame`` holds valid daily bars; return it unchanged.

    Parameters
    ----------
    frame : DataFrame
        Bars indexed by a tz-naive ``DatetimeIndex`` with float columns
        ``open, high, low, close, volume`` (volume may be NaN).
    symbol : str
        Symbol the bars belong to (for the message).
    origin : str or Path
        Where the bars came from (file, cache file or download), named in errors.
    first_line : int or sequence of int, optional
        Line of the file holding the first row, when rows map one-to-one to
        lines (a CSV file), or the file line of every row; the error then also
        names the line.

    Returns
    -------
    DataFrame
        ``frame`` itself.

    Raises
    ------
    DataError
        On the first failing check, naming ``origin``, the first bad date and
        the fix.

    Notes
    -----
    A bar is possible when ``high >= max(open, close) * (1 - REL_TOL)`` and
    ``low <= min(open, close) * (1 + REL_TOL)``.
    """
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where(origin)} {symbol}: missing column(s) {', '.join(missing)}; "
            f"bars need {', '.join(BAR_COLUMNS)}"
        )
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is not None:
        raise DataError(f"{where(origin)} {symbol}: index must be tz-naive session dates")
    if len(frame) == 0:
        raise DataError(f"{where(origin)} {symbol}: no rows; re-fetch the data or remove the file")

    stamps = index.asi8
    steps = np.diff(stamps)
    if (steps <= 0).any():
        position = int(np.flatnonzero(steps <= 0)[0]) + 1
        day = index[position].date()
        kind = "duplicate date" if steps[position - 1] == 0 else "date out of order"
        raise DataError(
            f"{_location(origin, first_line, position)} {symbol} {day}: {kind}; "
            "sessions must be ascending with one row per date"
        )

    # A close-only series (open, high and low all NaN) has only its closes to check.
    columns = ["close"] if is_close_only(frame) else list(PRICE_COLUMNS)
    prices = np.column_stack([frame[c].to_numpy(dtype=float) for c in columns])  # no reindexed copy
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        position, column = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(
            f"{_location(origin, first_line, position)} {symbol} {index[position].date()}: "
            f"{columns[column]} is {prices[position, column]:g}; prices must be positive numbers"
        )
    if len(columns) == 1:
        return frame

    open_, high, low, close = prices.T
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    checks = (
        (high < top * (1 - REL_TOL), "high", high, "below max(open, close)", top),
        (low > bottom * (1 + REL_TOL), "low", low, "above min(open, close)", bottom),
        (low > high * (1 + REL_TOL), "low", low, "above high", high),
    )
    for failed, name, values, relation, bound in checks:
        if failed.any():
            position = int(np.flatnonzero(failed)[0])
            raise DataError(
                f"{_location(origin, first_line, position)} {symbol} {index[position].date()}: "
                f"{name} {values[position]:g} is {relation} = {bound[position]:g}; "
                "fix the row or re-fetch the data"
            )
    return frame


def is_close_only(bars: pd.DataFrame) -> bool:
    """True for bars without open, high and low (all NaN): a close-only price file.

    >>> is_close_only(pd.DataFrame({"open": [np.nan], "high": [np.nan], "low": [np.nan], "close": [1.0]}))
    True
    """
    return all(bool(bars[c].isna().all()) for c in ("open", "high", "low"))


@lru_cache(maxsize=32)
def _sessions(calendar: str, first_year: int, last_year: int) -> pd.DatetimeIndex:
    """Sessions of years outside the shared range (rarely needed: data before 2000 or after 2035)."""
    import pandas_market_calendars as mcal

    with warnings.catch_warnings():
        # pandas-market-calendars notes discontinued lunch breaks (XKRX, JPX); irrelevant to dates.
        warnings.simplefilter("ignore", UserWarning)
        days = mcal.get_calendar(calendar).valid_days(f"{first_year}-01-01", f"{last_year}-12-31")
    return pd.DatetimeIndex(days.tz_localize(None).normalize(), name="date")


@cache
def library_sessions(calendar: str) -> pd.DatetimeIndex:
    """All sessions of the pandas-market-calendars ``calendar`` in 2000-01-01..2035-12-31.

    Built once per calendar and process, from the same cached library schedule that
    :class:`~backtest.calendars.ExchangeCalendars` reconciles (no closures applied), so
    that validating the bars and building the calendars cost one calendar build per
    exchange (XKRX's lunar holidays take about a second).

    >>> library_sessions("NYSE")[[0, -1]].strftime("%Y-%m-%d").tolist()
    ['2000-01-03', '2035-12-31']
    """
    from backtest.calendars import ExchangeCalendars

    return pd.DatetimeIndex(ExchangeCalendars().sessions(calendar), name="date")


def off_calendar_dates(index: pd.DatetimeIndex, calendar: str) -> pd.DatetimeIndex:
    """Dates of ``index`` that are not sessions of the pandas-market-calendars ``calendar``.

    Sessions come from the library schedule of the data's years
    (:func:`backtest.calendars.library_sessions_of`, cached); dates outside 2000-2035 are
    checked against sessions computed for their years.

    >>> off_calendar_dates(pd.DatetimeIndex(["2025-01-24", "2025-01-25"]), "NYSE").strftime("%Y-%m-%d")
    Index(['2025-01-25'], dtype='str', name='date')
    """
    if len(index) == 0:
        return pd.DatetimeIndex([], name="date")
    days = index if index.is_normalized else index.normalize()  # session dates usually are
    from backtest.calendars import CALENDAR_END, CALENDAR_START, library_sessions_of

    inside = (days >= CALENDAR_START) & (days <= CALENDAR_END)
    valid = np.zeros(len(days), dtype=bool)
    if inside.any():  # only the years of the data (the calendars reuse that build)
        kept = days[inside]
        valid[inside] = kept.isin(library_sessions_of(calendar, kept.min(), kept.max()))
    if not inside.all():
        outside = days[~inside]
        sessions = _sessions(calendar, outside.min().year, outside.max().year)
        valid[~inside] = outside.isin(sessions)
    return pd.DatetimeIndex(days[~valid], name="date")


def check_calendar(frame: pd.DataFrame, symbol: str, origin: object) -> pd.DatetimeIndex:
    """Warn (``DataWarning``) about rows of ``frame`` off the symbol's exchange calendar.

    Returns the offending dates (empty when all rows are sessions). The rows
    are kept: the calendars module reconciles the calendar with the data.
    """
    from backtest.instruments import get_instrument

    calendar = get_instrument(symbol).calendar
    off = off_calendar_dates(frame.index, calendar)
    if len(off):
        shown = ", ".join(str(d.date()) for d in off[:_MAX_LISTED])
        more = f" and {len(off) - _MAX_LISTED} more" if len(off) > _MAX_LISTED else ""
        warnings.warn(
            f"{where(origin)} {symbol}: {len(off)} row(s) on dates that are not {calendar} sessions "
            f"({shown}{more}); check those rows' dates (weekend or holiday?)",
            DataWarning,
            stacklevel=2,
        )
    return off
