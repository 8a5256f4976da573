"""Reaction sessions and relative-day windows.

Expected sessions come from the issue text (facts checked there) and from the
snapshot's PROVENANCE.md table (KRX closed 2025-01-27..30, first post-DeepSeek KRX
session 2025-01-31; KOSPI -7.89 % on 2026-07-02), not from the code under test.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.alignment import align_events, align_symbols, reaction_session, window_sessions
from backtest.calendars import ExchangeCalendars
from backtest.errors import BacktestWarning, CalendarError, ParameterError, UnknownSymbolError
from backtest.events import load_events
from backtest.sources import get_source, load_prices

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cals() -> ExchangeCalendars:
    source = get_source("snapshot")
    with warnings.catch_warnings():
        warnings.simplefilter("error", BacktestWarning)
        return ExchangeCalendars.from_prices(load_prices(source.symbols(), source))


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return load_events(REPO / "events.csv")


# event_id -> (US, Korea, Tokyo) reaction sessions, from the issue.
EXPECTED = {
    "deepseek_r1": ("2025-01-27", "2025-01-31", "2025-01-27"),
    "us_tariffs_liberation_day": ("2025-04-03", "2025-04-03", "2025-04-03"),
    "us_tariff_pause": ("2025-04-09", "2025-04-10", "2025-04-10"),
    "meta_compute": ("2026-07-01", "2026-07-02", "2026-07-02"),
}
SYMBOL_COLUMN = {"NVDA": 0, "000660.KS": 1, "005930.KS": 1, "285A.T": 2}


def test_shipped_events_on_us_korea_tokyo(events, cals):
    table = align_symbols(events, cals)
    assert len(table) == 4 * 4
    for row in table.itertuples():
        expected = EXPECTED[row.event_id][SYMBOL_COLUMN[row.symbol]]
        assert row.reaction_session == pd.Timestamp(expected), (row.event_id, row.symbol)
        # Only the tariff pause, posted 13:18 EDT, falls inside a session (US).
        assert row.intraday == (row.event_id == "us_tariff_pause" and row.symbol == "NVDA")
    assert list(table.columns[:7]) == [
        "event_id", "symbol", "exchange", "calendar", "reaction_session", "intraday", "kind",
    ]
    assert table["reaction_session"].dt.tz is None


def test_align_events_one_row_per_exchange_with_local_times(events, cals):
    table = align_events(events, cals)
    assert list(table["exchange"].iloc[:3]) == ["NASDAQ", "KRX", "TSE"]
    assert len(table) == 4 * 3
    row = table[(table.event_id == "us_tariffs_liberation_day") & (table.exchange == "KRX")].iloc[0]
    # 16:00 EDT = 20:00 UTC = 05:00 KST next day.
    assert row["announced_utc"] == pd.Timestamp("2025-04-02 20:00", tz="UTC")
    assert row["announced_local"].strftime("%Y-%m-%d %H:%M %z") == "2025-04-03 05:00 +0900"
    assert row["reaction_session"] == pd.Timestamp("2025-04-03")
    pause = table[table.event_id == "us_tariff_pause"].set_index("exchange")["intraday"]
    assert pause.to_dict() == {"NASDAQ": True, "KRX": False, "TSE": False}


def test_nasdaq_and_nyse_are_separate_exchanges(events, cals):
    table = align_events(events, cals, ["NVDA", "SPY", "QQQ"])
    assert list(table.loc[table.event_id == "deepseek_r1", "exchange"]) == ["NASDAQ", "NYSE"]
    by_symbol = align_symbols(events.iloc[:1], cals, ["NVDA", "SPY"]).set_index("symbol")
    assert by_symbol.loc["SPY", "calendar"] == "NYSE" and by_symbol.loc["NVDA", "calendar"] == "NASDAQ"


def test_events_own_symbols_override_the_default(cals, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("event_id,name,announced_at,kind,symbols\na,A,2025-04-02T20:00:00Z,shock,6857.T SPY\n")
    table = align_symbols(load_events(path), cals)
    assert list(table["symbol"]) == ["6857.T", "SPY"]


def test_unknown_symbol(events, cals):
    with pytest.raises(UnknownSymbolError):
        align_symbols(events, cals, ["NVDA", "0000.ZZ"])


# ------------------------------------------------------------------ boundaries (hand-checked)
# NASDAQ 2025-04-09: 09:30-16:00 EDT = 13:30-20:00 UTC; 2025-04-10 is the next session.
@pytest.mark.parametrize(
    ("instant", "session", "intraday"),
    [
        ("2025-04-09 13:29:59", "2025-04-09", False),  # pre-market
        ("2025-04-09 13:30:00", "2025-04-09", True),  # exactly at the open: open <= t
        ("2025-04-09 19:59:59.999999", "2025-04-09", True),
        ("2025-04-09 20:00:00", "2025-04-10", False),  # exactly at the close: close must be > t
        # Day after Thanksgiving closes 13:00 EST = 18:00 UTC; 13:30 EST is after it -> Monday.
        ("2025-11-28 18:30:00", "2025-12-01", False),
        ("2025-11-28 17:59:00", "2025-11-28", True),
        ("2025-11-27 15:00:00", "2025-11-28", False),  # Thanksgiving: closed
    ],
)
def test_nasdaq_boundaries(cals, instant, session, intraday):
    found = reaction_session(cals, "NASDAQ", pd.Timestamp(instant, tz="UTC"))
    assert found == (pd.Timestamp(session), intraday)


@pytest.mark.parametrize(
    ("instant", "session"),
    [
        ("2026-06-02T16:00:00+09:00", "2026-06-04"),  # after the close; 06-03 is a closure (elections)
        ("2026-06-03T10:00:00+09:00", "2026-06-04"),  # "during" the missing session: not intraday
        ("2026-07-16T15:30:00+09:00", "2026-07-20"),  # at the close; 07-17 closure + weekend
    ],
)
def test_krx_closures_are_skipped(cals, instant, session):
    assert reaction_session(cals, "XKRX", pd.Timestamp(instant)) == (pd.Timestamp(session), False)


def test_bare_date_event_in_utc(cals, tmp_path):
    # 2026-07-17 00:00 UTC = 09:00 KST on the KRX closure -> next KRX session Monday 07-20;
    # = 20:00 EDT on 07-16, after the US close -> US session 07-17, not intraday.
    path = tmp_path / "e.csv"
    path.write_text("event_id,name,announced_at,kind\nd,D,2026-07-17,shock\n")
    table = align_events(load_events(path), cals, ["NVDA", "000660.KS"]).set_index("exchange")
    assert table.loc["KRX", "reaction_session"] == pd.Timestamp("2026-07-20")
    assert table.loc["NASDAQ", "reaction_session"] == pd.Timestamp("2026-07-17")
    assert not table["intraday"].any()


def test_announcement_after_the_last_session(cals):
    with pytest.raises(CalendarError, match="no session closes after"):
        reaction_session(cals, "XKRX", pd.Timestamp("2035-12-30 12:00", tz="UTC"))


# ------------------------------------------------------------------ windows
def test_window_skips_closures(cals):
    window = window_sessions(cals, "XKRX", pd.Timestamp("2026-07-16"), -1, 2)
    assert list(window["rel_day"]) == [-1, 0, 1, 2]
    assert [d.strftime("%m-%d") for d in window["date"]] == ["07-15", "07-16", "07-20", "07-21"]
    assert window["rel_day"].dtype.kind == "i"


def test_window_around_deepseek_in_korea(cals):
    # Day 0 = 2025-01-31; day -1 = 2025-01-24 (Lunar New Year 01-27..30 closed).
    window = window_sessions(cals, "XKRX", pd.Timestamp("2025-01-31"), -1, 1)
    assert [d.strftime("%Y-%m-%d") for d in window["date"]] == ["2025-01-24", "2025-01-31", "2025-02-03"]


def test_window_errors(cals):
    with pytest.raises(CalendarError, match="2026-06-03 is not a session of XKRX"):
        window_sessions(cals, "XKRX", pd.Timestamp("2026-06-03"), 0, 1)
    with pytest.raises(ParameterError):
        window_sessions(cals, "XKRX", pd.Timestamp("2026-06-04"), 2, 1)
    with pytest.raises(CalendarError, match="runs past"):
        window_sessions(cals, "NASDAQ", pd.Timestamp("2035-12-20"), -5, 20)
    with pytest.raises(CalendarError, match="runs past"):
        window_sessions(cals, "NASDAQ", pd.Timestamp("2000-01-05"), -5, 0)


# ------------------------------------------------------------------ property-based
CALENDARS = ("NASDAQ", "NYSE", "XKRX", "JPX")
LOW = pd.Timestamp("2024-01-01", tz="UTC").value // 1000
HIGH = pd.Timestamp("2026-12-31", tz="UTC").value // 1000
# Half of the draws land around the KRX closures of 2026-06-03 and 2026-07-17.
NEAR = tuple(pd.Timestamp(day, tz="UTC").value // 1000 for day in ("2026-05-30", "2026-07-21"))
INSTANTS = st.one_of(st.integers(LOW, HIGH), st.integers(*NEAR))


@settings(max_examples=200, deadline=None)
@given(micros=INSTANTS, calendar=st.sampled_from(CALENDARS))
def test_reaction_session_properties(cals, micros, calendar):
    t = pd.Timestamp(micros, unit="us", tz="UTC")
    session, intraday = reaction_session(cals, calendar, t)
    schedule = cals.schedule(calendar, "2023-12-01", "2027-01-31")
    # 1. It is a session of the reconciled calendar (so never a closure).
    assert session in schedule.index
    assert session not in cals.closures(calendar)
    # 2. It closes after t, and no earlier session does.
    assert schedule.loc[session, "market_close"] > t
    earlier = schedule[schedule.index < session]
    assert (earlier["market_close"] <= t).all()
    # 3. The intraday flag agrees with the schedule.
    assert intraday == (schedule.loc[session, "market_open"] <= t < schedule.loc[session, "market_close"])


@settings(max_examples=100, deadline=None)
@given(
    micros=INSTANTS,
    calendar=st.sampled_from(CALENDARS),
    first=st.integers(-30, 0),
    length=st.integers(0, 30),
)
def test_window_properties(cals, micros, calendar, first, length):
    day0, _ = reaction_session(cals, calendar, pd.Timestamp(micros, unit="us", tz="UTC"))
    window = window_sessions(cals, calendar, day0, first, first + length)
    dates = pd.DatetimeIndex(window["date"])
    sessions = cals.sessions(calendar)
    assert len(window) == length + 1 and dates.is_monotonic_increasing and dates.is_unique
    assert dates.isin(sessions).all() and not dates.isin(cals.closures(calendar)).any()
    has_day0 = first <= 0 <= first + length
    assert window.loc[window["rel_day"] == 0, "date"].tolist() == ([day0] if has_day0 else [])
    # Consecutive rows are consecutive sessions: nothing skipped, nothing counted twice.
    positions = sessions.get_indexer(dates)
    assert (pd.Series(positions).diff().dropna() == 1).all()
