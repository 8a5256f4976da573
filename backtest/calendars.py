"""Exchange calendars reconciled with the price data and a closures file.

pandas-market-calendars gives each exchange's sessions with open and close
times in UTC (early closes included), but it is not the whole truth: its XKRX
calendar, for instance, misses the KRX closures of 2026-06-03 (local
elections) and 2026-07-17 (Constitution Day). :class:`ExchangeCalendars`
therefore removes

* closures listed in an overrides file (the packaged
  ``backtest/data/closures.csv``, then an optional user file on top), and
* sessions on which every loaded instrument of that exchange whose data cover
  the date lacks a price row, when there are at least two of them (the
  exchange's benchmark counts): reported once as a ``CalendarWarning``, unless
  the overrides file already lists the date.

A session the calendar lists as open that one instrument lacks while the
evidence does not say closure (it is the only instrument of its exchange, or
another one traded that day) is missing data, never a closure: the
instrument's returns there are missing, day 0 stays on the exchange calendar,
and :attr:`ExchangeCalendars.gaps` lists each run of such sessions (symbol,
dates, count, the file it came from), reported in one ``DataGapWarning``.
A gap in one price file must not move every other instrument's relative days.

Overrides file: CSV with header ``calendar,date,action,note``; ``action`` is
``add_closure`` (the exchange was closed on ``date``) or ``remove_closure``
(it was open: the date is kept, or added with the previous session's local
hours, even if the library or the data say otherwise).

Schedules cover whole years inside the supported range 2000-01-01..2035-12-31
(:data:`CALENDAR_START`, :data:`CALENDAR_END`), but only the years a run needs: those of
the price data with :data:`MARGIN_YEARS` on each side, widened on demand when a query asks
for earlier or later dates (an event, a window). Building XKRX for 2000-2035 takes seconds;
for the six years around a snapshot, milliseconds. Each span's library schedule is cached
per process.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from backtest.csvrows import read_rows
from backtest.errors import (
    CalendarError,
    CalendarWarning,
    DataGapWarning,
    DataWarning,
    closest_match,
    shown,
    where,
)
from backtest.instruments import get_instrument
from backtest.schedule_cache import cached_schedule, is_cached

CALENDAR_START = pd.Timestamp("2000-01-01")
CALENDAR_END = pd.Timestamp("2035-12-31")
#: Years of schedule kept on each side of the price data (estimation windows reach ~1 year back).
MARGIN_YEARS = 2
Years = tuple[int, int]
FULL_YEARS: Years = (CALENDAR_START.year, CALENDAR_END.year)
OVERRIDE_COLUMNS: tuple[str, ...] = ("calendar", "date", "action", "note")
OverrideAction = Literal["add_closure", "remove_closure"]
_ACTIONS: tuple[str, ...] = ("add_closure", "remove_closure")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_LISTED = 12
GAP_COLUMNS: tuple[str, ...] = ("symbol", "calendar", "first", "last", "n_sessions", "origin")
#: Fewest instruments of an exchange, all without a row on a session, that make it a closure.
MIN_CLOSURE_EVIDENCE = 2


def packaged_closures_path() -> Path:
    """Path of the packaged closures overrides file ``backtest/data/closures.csv``."""
    return Path(str(resources.files("backtest") / "data" / "closures.csv"))


@cache
def _calendar_names() -> tuple[str, ...]:
    import pandas_market_calendars as mcal

    return tuple(mcal.get_calendar_names())


def _check_name(calendar: str, context: str = "calendar") -> str:
    if _is_cached(calendar) or calendar in _calendar_names():  # a cached schedule was checked
        return calendar
    close = closest_match(str(calendar), _calendar_names())
    hint = f"; did you mean {close!r}?" if close else "; use e.g. NASDAQ, NYSE, XKRX or JPX"
    raise CalendarError(f"{context} {calendar!r} is not a pandas-market-calendars name{hint}")


@cache
def _is_cached(calendar: str) -> bool:
    return is_cached(calendar)


@cache
def _library(calendar: str, years: Years = FULL_YEARS) -> tuple[pd.DataFrame, str]:
    """Library schedule for the whole ``years`` (first, last) and the exchange's time zone.

    Cached per process, and on disk between runs (:mod:`backtest.schedule_cache`).
    """
    return cached_schedule(calendar, years, lambda: _build_library(calendar, years))


def _build_library(calendar: str, years: Years) -> tuple[pd.DataFrame, str]:
    import pandas_market_calendars as mcal

    with warnings.catch_warnings():
        # XKRX/JPX announce that their lunch breaks were discontinued; noise for users.
        warnings.filterwarnings("ignore", message=r".*break_start.*break_end.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=r".*dt\.weekday is deprecated.*")
        library = mcal.get_calendar(calendar)
        schedule = library.schedule(pd.Timestamp(years[0], 1, 1), pd.Timestamp(years[1], 12, 31))
    out = schedule[["market_open", "market_close"]].copy()
    out.index = pd.DatetimeIndex(out.index, name="session")
    return out, str(library.tz)


def _library_schedule(calendar: str, years: Years = FULL_YEARS) -> pd.DataFrame:
    return _library(calendar, years)[0]


def library_sessions_of(calendar: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Library sessions (no closures applied) of the years around ``start..end``.

    The same cached build :meth:`ExchangeCalendars.from_prices` uses for data on those dates
    (:data:`MARGIN_YEARS` on each side), so validating bars costs no second calendar build.

    >>> days = library_sessions_of("NYSE", pd.Timestamp("2025-01-02"), pd.Timestamp("2025-12-31"))
    >>> str(days[0].date()), str(days[-1].date())
    ('2023-01-03', '2027-12-31')
    """
    return _library_schedule(_check_name(calendar), _years_of(start, end, MARGIN_YEARS)).index


def _years_of(start: pd.Timestamp, end: pd.Timestamp, margin: int = 0) -> Years:
    """Whole years covering ``start..end`` plus ``margin`` on each side, inside the supported range.

    >>> _years_of(pd.Timestamp("2024-01-02"), pd.Timestamp("2026-09-28"), 2)
    (2022, 2028)
    """
    return (max(FULL_YEARS[0], min(FULL_YEARS[1], start.year - margin)),
            min(FULL_YEARS[1], max(FULL_YEARS[0], end.year + margin)))


@dataclass(frozen=True)
class Override:
    """One row of a closures overrides file."""

    calendar: str
    date: pd.Timestamp
    action: OverrideAction
    note: str
    origin: str  # "file:line", for messages


def read_overrides(path: str | Path) -> list[Override]:
    """Parse a closures overrides file (``calendar,date,action,note``).

    Accepts a UTF-8 BOM and CRLF line ends; line 1 is the header.

    Raises
    ------
    CalendarError
        Missing file or column, unknown calendar or action, bad date; the message
        names the file, line and column.

    Examples
    --------
    >>> rows = read_overrides(packaged_closures_path())
    >>> ("XKRX", "2026-06-03") in {(r.calendar, str(r.date.date())) for r in rows}
    True
    """
    path = Path(path)
    header, records = read_rows(path, "closures", CalendarError)
    if not header:
        raise CalendarError(f"{where(path)} empty file; expected header {','.join(OVERRIDE_COLUMNS)}")
    for column in OVERRIDE_COLUMNS[:3]:
        if column not in header:
            raise CalendarError(
                f"{where(path, 1, column)} missing column; header must be {','.join(OVERRIDE_COLUMNS)}"
            )
    pos = {c: header.index(c) for c in OVERRIDE_COLUMNS if c in header}
    rows: list[Override] = []
    for line, cells in records:
        cells = cells + [""] * (len(header) - len(cells))
        calendar, date, action = (cells[pos[c]] for c in OVERRIDE_COLUMNS[:3])
        note = cells[pos["note"]] if "note" in pos else ""
        try:
            _check_name(calendar)
        except CalendarError as exc:
            raise CalendarError(f"{where(path, line, 'calendar')} {exc}") from None
        try:
            stamp = pd.Timestamp(date) if _DATE_RE.match(date) else None
        except ValueError:
            stamp = None
        if stamp is None or pd.isna(stamp):
            raise CalendarError(f"{where(path, line, 'date')} {shown(date)} is not a date; use YYYY-MM-DD")
        if action not in _ACTIONS:
            raise CalendarError(
                f"{where(path, line, 'action')} {shown(action)} is not an action; "
                "use add_closure or remove_closure"
            )
        rows.append(Override(calendar, stamp, action, note, f"{path}:{line}"))  # type: ignore[arg-type]
    return rows


def _listing(dates: Iterable[pd.Timestamp]) -> str:
    dates = sorted(dates)
    text = ", ".join(str(d.date()) for d in dates[:_MAX_LISTED])
    if len(dates) > _MAX_LISTED:
        text += f" ... ({len(dates) - _MAX_LISTED} more)"
    return text


def _row_dates(bars: Mapping[str, pd.DataFrame]) -> dict[str, pd.DatetimeIndex]:
    """Each instrument's row dates (normalized); instruments without rows are left out."""
    return {symbol: pd.DatetimeIndex(frame.index).normalize() for symbol, frame in bars.items()
            if len(frame.index)}


def inferred_closures(library: pd.DatetimeIndex, rows: Mapping[str, pd.DatetimeIndex],
                      min_evidence: int = MIN_CLOSURE_EVIDENCE) -> pd.DatetimeIndex:
    """Library sessions the data show as closures: no row from any of >= ``min_evidence``
    instruments whose [first, last] span covers the date.

    >>> lib = pd.bdate_range("2025-03-10", "2025-03-14")
    >>> a = lib.drop(pd.Timestamp("2025-03-12"))
    >>> [str(d.date()) for d in inferred_closures(lib, {"A": a})]          # one file: a gap
    []
    >>> [str(d.date()) for d in inferred_closures(lib, {"A": a, "B": a})]  # both lack it
    ['2025-03-12']
    """
    covering = np.zeros(len(library), dtype=int)
    present = np.zeros(len(library), dtype=int)
    for dates in rows.values():
        inside = (library >= dates.min()) & (library <= dates.max())
        covering += inside
        present += inside & library.isin(dates)
    return library[(covering >= min_evidence) & (present == 0)]


def data_gaps(sessions: pd.DatetimeIndex, calendar: str, rows: Mapping[str, pd.DatetimeIndex],
              origins: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Runs of ``sessions`` inside an instrument's [first, last] rows on which it has no row.

    Returns
    -------
    DataFrame
        :data:`GAP_COLUMNS`: symbol, calendar, first, last (session dates), n_sessions, origin.

    >>> s = pd.bdate_range("2025-03-10", "2025-03-21")
    >>> rows = {"A": s.drop(pd.bdate_range("2025-03-12", "2025-03-13"))}
    >>> data_gaps(s, "XKRX", rows)[["first", "last", "n_sessions"]].astype(str).values.tolist()
    [['2025-03-12', '2025-03-13', '2']]
    """
    out = []
    for symbol, dates in rows.items():
        inside = sessions[(sessions >= dates.min()) & (sessions <= dates.max())]
        lacking = ~inside.isin(dates)
        if not lacking.any():
            continue
        pos = np.flatnonzero(lacking)
        starts = np.flatnonzero(np.diff(np.concatenate([[-2], pos])) != 1)
        ends = np.concatenate([starts[1:], [len(pos)]]) - 1
        for a, b in zip(starts, ends, strict=True):
            out.append((symbol, calendar, inside[pos[a]], inside[pos[b]], int(b - a + 1),
                        (origins or {}).get(symbol, symbol)))
    frame = pd.DataFrame(out, columns=list(GAP_COLUMNS))
    frame["n_sessions"] = frame["n_sessions"].astype(int)
    return frame


class ExchangeCalendars:
    """pandas-market-calendars schedules reconciled with observed price data and a closures file.

    Build it with :meth:`from_prices`. Every method takes the pandas-market-calendars
    name (``NASDAQ``, ``NYSE``, ``XKRX``, ``JPX``) used in the instrument registry.

    Examples
    --------
    >>> cals = ExchangeCalendars.from_prices()
    >>> [str(d.date()) for d in cals.sessions("XKRX", "2026-06-01", "2026-06-05")]
    ['2026-06-01', '2026-06-02', '2026-06-04', '2026-06-05']
    >>> cals.schedule("NASDAQ", "2025-04-09", "2025-04-09").iloc[0]["market_close"]
    Timestamp('2025-04-09 20:00:00+0000', tz='UTC')
    """

    def __init__(
        self,
        closures: Mapping[str, Iterable[pd.Timestamp]] | None = None,
        openings: Mapping[str, Iterable[pd.Timestamp]] | None = None,
        data_spans: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]] | None = None,
        years: Years = FULL_YEARS,
        gaps: pd.DataFrame | None = None,
    ) -> None:
        """Explicit ``closures`` and ``openings`` ({calendar: dates}); prefer :meth:`from_prices`.

        ``years`` (first, last) is the span the schedules cover to start with (:meth:`cover`).
        """
        self._years = years
        self._data_spans = dict(data_spans or {})
        self._gaps = gaps if gaps is not None else pd.DataFrame(columns=list(GAP_COLUMNS))
        self._closures = {k: pd.DatetimeIndex(sorted(set(v))) for k, v in (closures or {}).items()}
        self._openings = {k: pd.DatetimeIndex(sorted(set(v))) for k, v in (openings or {}).items()}
        self._schedules: dict[str, pd.DataFrame] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_prices(
        cls,
        prices: Mapping[str, pd.DataFrame] | None = None,
        overrides: str | Path | None = None,
    ) -> ExchangeCalendars:
        """Reconcile the library calendars with ``prices`` and the closures files.

        Parameters
        ----------
        prices : mapping of symbol to bars, optional
            Bars indexed by session date. A calendar session that every instrument of
            the exchange whose [first, last] span covers the date lacks, at least two of
            them, becomes a closure; the new ones (not in the overrides) are reported in
            one ``CalendarWarning`` naming them. A session only some lack (or the only
            one) is a data gap (:attr:`gaps`, one ``DataGapWarning``). Rows on dates that
            are not sessions are reported in one ``DataWarning``.
        overrides : path, optional
            A user closures file applied on top of the packaged one.

        Raises
        ------
        CalendarError
            A malformed overrides file.
        UnknownSymbolError
            A symbol in ``prices`` that the instrument registry cannot place.
        """
        rows = read_overrides(packaged_closures_path())
        if overrides is not None:
            rows += read_overrides(overrides)
        listed: dict[str, set[pd.Timestamp]] = {}
        kept: dict[str, set[pd.Timestamp]] = {}
        for row in rows:  # later rows (the user's file) win
            (listed if row.action == "add_closure" else kept).setdefault(row.calendar, set()).add(row.date)
            other = kept if row.action == "add_closure" else listed
            other.get(row.calendar, set()).discard(row.date)

        by_calendar: dict[str, dict[str, pd.DataFrame]] = {}
        for symbol, bars in (prices or {}).items():
            by_calendar.setdefault(get_instrument(symbol).calendar, {})[symbol] = bars
        row_dates = {cal: _row_dates(group) for cal, group in by_calendar.items()}
        bounds = [(d.min(), d.max()) for rows in row_dates.values() for d in rows.values()]
        years = _years_of(min(a for a, _ in bounds), max(b for _, b in bounds), MARGIN_YEARS) \
            if bounds else FULL_YEARS

        closures = {cal: set(dates) for cal, dates in listed.items()}
        data_spans: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
        unlisted: list[str] = []
        off_calendar: list[str] = []
        gaps: list[pd.DataFrame] = []
        for calendar, group in by_calendar.items():
            library = _library_schedule(_check_name(calendar), years).index
            rows = row_dates[calendar]
            if not rows:
                continue
            observed = pd.DatetimeIndex(sorted(set().union(*rows.values())))
            data_spans[calendar] = (observed.min(), observed.max())
            missing = [d for d in inferred_closures(library, rows) if d not in kept.get(calendar, set())]
            new = [d for d in missing if d not in listed.get(calendar, set())]
            if new:
                unlisted.append(f"{calendar} ({', '.join(group)}) {_listing(new)}")
            closures.setdefault(calendar, set()).update(missing)
            valid = library.difference(pd.DatetimeIndex(sorted(closures[calendar]))).union(
                pd.DatetimeIndex(sorted(kept.get(calendar, set())))
            )
            origins = {symbol: str(frame.attrs.get("origin", symbol)) for symbol, frame in group.items()}
            gaps.append(data_gaps(valid, calendar, rows, origins))
            off = observed.difference(valid)
            off = off[(off >= CALENDAR_START) & (off <= CALENDAR_END)]  # older rows: no calendar to check
            if len(off):
                off_calendar.append(f"{calendar} {_listing(off)}")
        if unlisted:
            warnings.warn(
                "calendar sessions without a price row from any instrument of the exchange, treated "
                f"as closures: {'; '.join(unlisted)}; list them as add_closure in a closures file "
                "(or as remove_closure if the data are incomplete)",
                CalendarWarning,
                stacklevel=2,
            )
        gap_table = pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame(columns=list(GAP_COLUMNS))
        if len(gap_table):
            listed_gaps = [
                f"{g.symbol}: {g.first.date()}" + (f"..{g.last.date()}" if g.n_sessions > 1 else "")
                + f" ({g.n_sessions} {g.calendar} session{'s' if g.n_sessions > 1 else ''})"
                + (f" in {g.origin}" if g.origin != g.symbol else "")
                for g in gap_table.itertuples()
            ]
            shown = "; ".join(listed_gaps[:_MAX_LISTED])
            if len(listed_gaps) > _MAX_LISTED:
                shown += f" ... ({len(listed_gaps) - _MAX_LISTED} more)"
            warnings.warn(
                f"no price rows on sessions the exchange was open, treated as missing data (not "
                f"closures): {shown}; results whose windows touch them count them (n_gap); fill the "
                "file, or list real closures as add_closure in a closures file",
                DataGapWarning,
                stacklevel=2,
            )
        if off_calendar:
            warnings.warn(
                f"price rows on dates that are not sessions: {'; '.join(off_calendar)}; they are "
                "outside the calendar (list them as remove_closure in a closures file if the "
                "exchange was open)",
                DataWarning,
                stacklevel=2,
            )
        return cls(closures=closures, openings=kept, data_spans=data_spans, years=years, gaps=gap_table)

    def __repr__(self) -> str:
        counts = {k: len(v) for k, v in self._closures.items() if len(v)}
        return f"ExchangeCalendars(closures={counts})"

    # ------------------------------------------------------------------ queries
    def cover(self, start: object = None, end: object = None) -> None:
        """Widen the schedules to whole years covering ``start..end`` (inside 2000-2035).

        Queries with explicit dates call it; a whole-range query (:meth:`sessions` without
        dates) returns the span covered so far: the data's years with :data:`MARGIN_YEARS`
        on each side, and whatever earlier queries asked for.
        """
        lo = self._years[0] if start is None else pd.Timestamp(start).year
        hi = self._years[1] if end is None else pd.Timestamp(end).year
        years = _years_of(pd.Timestamp(min(lo, self._years[0]), 1, 1),
                          pd.Timestamp(max(hi, self._years[1]), 1, 1))
        if years != self._years:
            self._years = years
            self._schedules.clear()

    @property
    def years(self) -> Years:
        """First and last year the schedules cover now (see :meth:`cover`)."""
        return self._years

    def schedule(self, calendar: str, start: object = None, end: object = None) -> pd.DataFrame:
        """Reconciled schedule: index = session date (tz-naive), columns market_open, market_close (UTC).

        ``start`` and ``end`` (dates, inclusive) slice it; ``None`` means the whole span
        covered (:meth:`cover`), which the dates given widen when needed.
        """
        self.cover(start, end)
        full = self._full(calendar)
        if start is None and end is None:
            return full.copy()
        lo = None if start is None else pd.Timestamp(start).normalize()
        hi = None if end is None else pd.Timestamp(end).normalize()
        return full.loc[lo:hi].copy()

    def sessions(self, calendar: str, start: object = None, end: object = None) -> pd.DatetimeIndex:
        """Reconciled session dates (tz-naive, ascending) between ``start`` and ``end`` inclusive.

        Without dates: every session of the span covered (:meth:`cover`).
        """
        self.cover(start, end)
        index = self._full(calendar).index
        if start is None and end is None:
            return index
        lo = None if start is None else pd.Timestamp(start).normalize()
        hi = None if end is None else pd.Timestamp(end).normalize()
        return index[index.slice_indexer(lo, hi)]

    def data_span(self, calendar: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last date with price data on ``calendar`` (the reconciled range), or None.

        Outside it the sessions are the library's alone: closures the data would reveal are unknown.
        """
        return self._data_spans.get(calendar)

    @property
    def gaps(self) -> pd.DataFrame:
        """Runs of open sessions without a price row per instrument (missing data, not closures).

        Columns :data:`GAP_COLUMNS`: symbol, calendar, first, last, n_sessions, origin (the file).
        """
        return self._gaps.copy()

    def closures(self, calendar: str) -> pd.DatetimeIndex:
        """Library sessions removed as closures (by reconciliation or the overrides files)."""
        library = _library_schedule(_check_name(calendar), self._years).index
        return library.intersection(self._closures.get(calendar, pd.DatetimeIndex([])))

    def _full(self, calendar: str) -> pd.DataFrame:
        """The cached reconciled schedule (shared; callers must not mutate it)."""
        full = self._schedules.get(calendar)
        if full is None:
            full = self._build(calendar)
            self._schedules[calendar] = full
        return full

    def _build(self, calendar: str) -> pd.DataFrame:
        library, tz = _library(_check_name(calendar), self._years)
        schedule = library.drop(index=self.closures(calendar))
        extra = self._openings.get(calendar, pd.DatetimeIndex([])).difference(library.index)
        extra = extra[(extra.year >= self._years[0]) & (extra.year <= self._years[1])]
        if len(extra):
            schedule = pd.concat([schedule, _added_sessions(library, extra, tz)]).sort_index()
        return schedule


def _added_sessions(library: pd.DataFrame, dates: pd.DatetimeIndex, tz: str) -> pd.DataFrame:
    """Sessions for dates the library treats as holidays, with the previous session's local hours."""
    rows = []
    for date in dates:
        ref = library.iloc[max(int(library.index.searchsorted(date)) - 1, 0)]
        row = {}
        for column in ("market_open", "market_close"):
            local = ref[column].tz_convert(tz)
            clock = local - local.normalize()
            row[column] = (pd.Timestamp(date).tz_localize(tz) + clock).tz_convert("UTC")
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.DatetimeIndex(dates, name="session"))
    return out.astype(library.dtypes.to_dict())
