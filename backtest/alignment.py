"""From a headline's timestamp to each exchange's reaction session.

Rule (one per exchange, on its reconciled calendar): day 0 is the first session
whose close is strictly after the announcement,

    day0 = min{ s : close(s) > t },   intraday = open(day0) <= t < close(day0),

with open and close the pandas-market-calendars times in UTC (early closes
included). Relative day k is the k-th session after (k > 0) or before (k < 0)
day 0 on the same calendar; closures are not sessions, so they are never
landed on or counted. This is the event-date convention of MacKinlay (1997),
"Event Studies in Economics and Finance", JEL 35(1), section 3, made precise
for announcements that fall outside one market's trading hours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtest.calendars import ExchangeCalendars
from backtest.errors import CalendarError, ParameterError
from backtest.instruments import DEFAULT_TARGETS, Instrument, get_instrument

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "exchange", "calendar", "reaction_session", "intraday",
    "announced_utc", "announced_local", "kind",
)
SYMBOL_COLUMNS: tuple[str, ...] = (
    "event_id", "symbol", "exchange", "calendar", "reaction_session", "intraday", "kind", "announced_utc",
)


def reaction_session(
    calendars: ExchangeCalendars, calendar: str, announced: pd.Timestamp
) -> tuple[pd.Timestamp, bool]:
    """Day 0 on ``calendar`` for an announcement at ``announced``, and the intraday flag.

    Parameters
    ----------
    calendars : ExchangeCalendars
        Reconciled calendars.
    calendar : str
        pandas-market-calendars name (``NASDAQ``, ``NYSE``, ``XKRX``, ``JPX``).
    announced : Timestamp
        Tz-aware instant of the announcement.

    Returns
    -------
    (Timestamp, bool)
        The tz-naive session date ``min{s : close(s) > t}`` and ``open(s) <= t < close(s)``.

    Raises
    ------
    CalendarError
        When ``announced`` is naive or no session of the calendar closes after it.

    Examples
    --------
    >>> cals = ExchangeCalendars.from_prices()
    >>> reaction_session(cals, "NASDAQ", pd.Timestamp("2025-04-09T13:18:00-04:00"))
    (Timestamp('2025-04-09 00:00:00'), True)
    >>> reaction_session(cals, "XKRX", pd.Timestamp("2025-01-26T18:00:00-05:00"))
    (Timestamp('2025-01-31 00:00:00'), False)
    """
    when = pd.Timestamp(announced)
    if when.tzinfo is None:
        raise CalendarError(
            f"announcement {when} has no time zone; give a tz-aware instant (load_events returns UTC)"
        )
    when = when.tz_convert("UTC")
    calendars.cover(when, when + pd.Timedelta(days=31))  # the schedule must reach past the instant
    schedule = calendars._full(calendar)
    position = int(pd.DatetimeIndex(schedule["market_close"]).searchsorted(when, side="right"))
    if position >= len(schedule):
        raise CalendarError(
            f"{calendar}: no session closes after {when.isoformat()}; the calendar ends on "
            f"{schedule.index[-1].date()}"
        )
    row = schedule.iloc[position]
    intraday = bool(row["market_open"] <= when < row["market_close"])
    return schedule.index[position], intraday


def _instruments(symbols: Sequence[str]) -> list[Instrument]:
    return [get_instrument(symbol) for symbol in symbols]


def event_symbols(event: pd.Series, symbols: Sequence[str] | None) -> tuple[str, ...]:
    """The symbols one event is studied on: ``symbols`` if given, else its own, else the defaults."""
    if symbols is not None:
        return tuple(dict.fromkeys(symbols))
    own = tuple(dict.fromkeys(event.get("symbols", ()) or ()))
    return own or DEFAULT_TARGETS


def align_symbols(
    events: pd.DataFrame, calendars: ExchangeCalendars, symbols: Sequence[str] | None = None
) -> pd.DataFrame:
    """Reaction session of every event x symbol.

    Parameters
    ----------
    events : DataFrame
        Output of :func:`backtest.events.load_events`.
    calendars : ExchangeCalendars
        Reconciled calendars.
    symbols : sequence of str, optional
        Symbols for every event; ``None`` uses each event's own ``symbols`` or,
        when empty, ``DEFAULT_TARGETS``.

    Returns
    -------
    DataFrame
        Columns ``event_id, symbol, exchange, calendar, reaction_session`` (tz-naive),
        ``intraday`` (bool), ``kind``, ``announced_utc``.

    Raises
    ------
    UnknownSymbolError
        A symbol the instrument registry cannot place.
    CalendarError
        An announcement after the calendar's last session.

    Examples
    --------
    >>> from backtest.events import load_events
    >>> table = align_symbols(load_events(), ExchangeCalendars.from_prices(), ["NVDA", "000660.KS"])
    >>> table.loc[table.event_id == "deepseek_r1", ["symbol", "reaction_session"]].to_string(index=False)
    '   symbol reaction_session\\n     NVDA       2025-01-27\\n000660.KS       2025-01-31'
    """
    rows = []
    for _, event in events.iterrows():
        announced = _instant(event)
        found: dict[str, tuple[pd.Timestamp, bool]] = {}
        for instrument in _instruments(event_symbols(event, symbols)):
            if instrument.calendar not in found:
                found[instrument.calendar] = _placed(calendars, instrument.calendar, announced, event)
            session, intraday = found[instrument.calendar]
            rows.append(
                {
                    "event_id": event["event_id"],
                    "symbol": instrument.symbol,
                    "exchange": instrument.exchange,
                    "calendar": instrument.calendar,
                    "reaction_session": session,
                    "intraday": intraday,
                    "kind": event["kind"],
                    "announced_utc": announced,
                }
            )
    return _frame(rows, SYMBOL_COLUMNS)


def align_events(
    events: pd.DataFrame, calendars: ExchangeCalendars, symbols: Sequence[str] | None = None
) -> pd.DataFrame:
    """Reaction session of every event x exchange of the symbols.

    Same rule and arguments as :func:`align_symbols`; one row per event and
    exchange (in the order the exchanges first appear among the symbols).

    Returns
    -------
    DataFrame
        Columns ``event_id, exchange, calendar, reaction_session, intraday,
        announced_utc`` (UTC), ``announced_local`` (the exchange's time zone), ``kind``.

    Examples
    --------
    >>> from backtest.events import load_events
    >>> table = align_events(load_events(), ExchangeCalendars.from_prices())
    >>> pause = table[table.event_id == "us_tariff_pause"]
    >>> [(r.exchange, str(r.reaction_session.date()), r.intraday) for r in pause.itertuples()]
    [('NASDAQ', '2025-04-09', True), ('KRX', '2025-04-10', False), ('TSE', '2025-04-10', False)]
    """
    rows = []
    for _, event in events.iterrows():
        announced = _instant(event)
        seen: set[str] = set()
        for instrument in _instruments(event_symbols(event, symbols)):
            if instrument.exchange in seen:
                continue
            seen.add(instrument.exchange)
            session, intraday = _placed(calendars, instrument.calendar, announced, event)
            rows.append(
                {
                    "event_id": event["event_id"],
                    "exchange": instrument.exchange,
                    "calendar": instrument.calendar,
                    "reaction_session": session,
                    "intraday": intraday,
                    "announced_utc": announced,
                    "announced_local": announced.tz_convert(instrument.timezone),
                    "kind": event["kind"],
                }
            )
    return _frame(rows, EVENT_COLUMNS)


def _instant(event: pd.Series) -> pd.Timestamp:
    when = pd.Timestamp(event["announced_at"])
    if when.tzinfo is None:
        raise CalendarError(
            f"event {event['event_id']!r}: announced_at {when} has no time zone; "
            "load events with backtest.events.load_events (UTC instants)"
        )
    return when.tz_convert("UTC")


def _placed(
    calendars: ExchangeCalendars, calendar: str, announced: pd.Timestamp, event: pd.Series
) -> tuple[pd.Timestamp, bool]:
    try:
        return reaction_session(calendars, calendar, announced)
    except CalendarError as exc:
        raise CalendarError(f"event {event['event_id']!r}: {exc}") from None


def _frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["reaction_session"] = pd.DatetimeIndex(frame["reaction_session"])
    frame["intraday"] = frame["intraday"].astype(bool)
    frame["announced_utc"] = pd.DatetimeIndex(frame["announced_utc"]).tz_convert("UTC") if rows else (
        pd.Series([], dtype="datetime64[ns, UTC]")
    )
    return frame


def window_sessions(
    calendars: ExchangeCalendars, calendar: str, reaction_session: pd.Timestamp, first: int, last: int
) -> pd.DataFrame:
    """Session dates of the relative days ``first..last`` around day 0 on ``calendar``.

    Parameters
    ----------
    calendars : ExchangeCalendars
    calendar : str
        pandas-market-calendars name, e.g. ``XKRX``.
    reaction_session : Timestamp
        Day 0; must be a session of the reconciled calendar.
    first, last : int
        Relative days, ``first <= last`` (e.g. ``-5, 20``).

    Returns
    -------
    DataFrame
        ``rel_day`` (int, first..last) and ``date`` (tz-naive session date).

    Raises
    ------
    CalendarError
        ``reaction_session`` is not a session, or the window runs past the calendar's range.
    ParameterError
        ``first > last``.

    Examples
    --------
    >>> cals = ExchangeCalendars.from_prices()
    >>> w = window_sessions(cals, "XKRX", pd.Timestamp("2026-06-02"), -1, 1)
    >>> [str(d.date()) for d in w["date"]]
    ['2026-06-01', '2026-06-02', '2026-06-04']
    """
    first, last = int(first), int(last)
    if first > last:
        raise ParameterError(f"window [{first}, {last}]: first day after last day; use first <= last")
    day0 = pd.Timestamp(reaction_session).normalize()
    # cover the window first: at most 2 calendar days per session, plus a month of holidays
    calendars.cover(day0 + pd.Timedelta(days=max(2 * min(first, 0), -20000) - 31),
                    day0 + pd.Timedelta(days=min(2 * max(last, 0), 20000) + 31))
    sessions = calendars.sessions(calendar)
    position = int(sessions.searchsorted(day0))
    if position >= len(sessions) or sessions[position] != day0:
        after = sessions[position].date() if position < len(sessions) else "none"
        raise CalendarError(
            f"{day0.date()} is not a session of {calendar} (next session: {after}); "
            "use the reaction session from align_symbols"
        )
    lo, hi = position + first, position + last
    if lo < 0 or hi >= len(sessions):
        raise CalendarError(
            f"window [{first}, {last}] around {day0.date()} runs past the {calendar} calendar "
            f"({sessions[0].date()} to {sessions[-1].date()}); shorten the window"
        )
    return pd.DataFrame(
        {"rel_day": np.arange(first, last + 1, dtype=np.int64), "date": sessions[lo : hi + 1]}
    )
