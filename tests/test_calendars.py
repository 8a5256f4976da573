"""Reconciled exchange calendars: library schedules + closures files + observed data.

Independent references: the snapshot's PROVENANCE.md ("every weekday gap is an exchange
holiday (incl. ... KRX 2026-06-03 elections, KRX 2026-07-17 ...)"), the issue text, and
published exchange hours (NYSE/NASDAQ close 13:00 ET the day after Thanksgiving; TSE moved
its close from 15:00 to 15:30 JST on 2024-11-05; KRX trades 09:00-15:30 KST).
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import backtest.calendars as calendars_module
from backtest.calendars import ExchangeCalendars, read_overrides
from backtest.errors import BacktestWarning, CalendarError, CalendarWarning, DataGapWarning, DataWarning
from backtest.instruments import get_instrument
from backtest.sources import get_source, load_prices


@pytest.fixture(scope="module")
def prices() -> dict[str, pd.DataFrame]:
    source = get_source("snapshot")
    return load_prices(source.symbols(), source)


@pytest.fixture(scope="module")
def cals(prices) -> ExchangeCalendars:
    return ExchangeCalendars.from_prices(prices)


def _write(path, text: str, *, bom: bool = False, crlf: bool = False):
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def test_shipped_snapshot_and_closures_give_no_warning(prices):
    with warnings.catch_warnings():
        warnings.simplefilter("error", BacktestWarning)
        calendars = ExchangeCalendars.from_prices(prices)
    assert list(calendars.closures("XKRX").strftime("%Y-%m-%d")) == ["2026-06-03", "2026-07-17"]


def test_krx_closures_missing_from_library_are_removed(cals):
    sessions = cals.sessions("XKRX", "2026-06-01", "2026-07-31")
    assert pd.Timestamp("2026-06-03") not in sessions
    assert pd.Timestamp("2026-07-17") not in sessions
    # Neighbouring ordinary weekdays stay.
    assert pd.Timestamp("2026-06-02") in sessions and pd.Timestamp("2026-07-16") in sessions


@pytest.mark.parametrize("calendar", ["XKRX", "JPX", "NASDAQ", "NYSE"])
def test_sessions_equal_the_snapshot_trading_days(cals, prices, calendar):
    # PROVENANCE.md: the files of one market share identical trading-day sets and every
    # weekday gap is a holiday, so over the data range the sessions must be exactly the rows.
    frames = [bars for symbol, bars in prices.items() if get_instrument(symbol).calendar == calendar]
    observed = pd.DatetimeIndex(sorted(set().union(*(set(f.index) for f in frames))))
    sessions = cals.sessions(calendar, observed[0], observed[-1])
    assert list(sessions) == list(observed)


def test_lunar_new_year_2025_is_not_a_krx_session(cals):
    # KRX closed 2025-01-27..30 (issue, PROVENANCE.md).
    sessions = cals.sessions("XKRX", "2025-01-24", "2025-02-03")
    assert [d.strftime("%m-%d") for d in sessions] == ["01-24", "01-31", "02-03"]


def test_schedule_shape_and_early_close(cals):
    schedule = cals.schedule("NASDAQ", "2025-11-26", "2025-11-28")
    assert list(schedule.columns) == ["market_open", "market_close"]
    assert str(schedule["market_close"].dt.tz) == "UTC"
    # Thanksgiving 2025-11-27 closed; 2025-11-28 closes 13:00 EST = 18:00 UTC.
    assert [d.strftime("%m-%d") for d in schedule.index] == ["11-26", "11-28"]
    assert schedule.loc["2025-11-28", "market_close"] == pd.Timestamp("2025-11-28 18:00", tz="UTC")
    assert schedule.loc["2025-11-26", "market_close"] == pd.Timestamp("2025-11-26 21:00", tz="UTC")


def test_tokyo_close_moved_to_1530_in_november_2024(cals):
    schedule = cals.schedule("JPX", "2024-11-01", "2024-11-05")
    # 15:00 JST = 06:00 UTC before 2024-11-05, 15:30 JST = 06:30 UTC from then on.
    assert schedule.loc["2024-11-01", "market_close"] == pd.Timestamp("2024-11-01 06:00", tz="UTC")
    assert schedule.loc["2024-11-05", "market_close"] == pd.Timestamp("2024-11-05 06:30", tz="UTC")
    assert schedule.loc["2024-11-05", "market_open"] == pd.Timestamp("2024-11-05 00:00", tz="UTC")


def test_sessions_slicing_is_inclusive_and_naive(cals):
    sessions = cals.sessions("NYSE", "2025-04-07", "2025-04-09")
    assert sessions.tz is None
    assert [d.day for d in sessions] == [7, 8, 9]


def test_unknown_calendar_suggests_the_closest_name(cals):
    with pytest.raises(CalendarError, match="did you mean 'XKRX'"):
        cals.sessions("XKRY")


def test_no_break_warning_when_building_asian_calendars():
    calendars_module._library.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ExchangeCalendars.from_prices().sessions("XKRX")
        ExchangeCalendars.from_prices().sessions("JPX")
    assert not [w for w in caught if "break_start" in str(w.message)]


# ------------------------------------------------------------------ reconciliation


def _bars(dates) -> pd.DataFrame:
    index = pd.DatetimeIndex(dates, name="date")
    values = {c: [100.0] * len(index) for c in ("open", "high", "low", "close")}
    return pd.DataFrame({**values, "volume": [1.0] * len(index)}, index=index)


@pytest.fixture
def no_packaged(tmp_path, monkeypatch):
    empty = _write(tmp_path / "empty_closures.csv", "calendar,date,action,note\n")
    monkeypatch.setattr(calendars_module, "packaged_closures_path", lambda: empty)


def test_missing_rows_become_one_warning_naming_the_dates(prices, no_packaged):
    krx = {s: b for s, b in prices.items() if get_instrument(s).calendar == "XKRX"}
    with pytest.warns(CalendarWarning) as record:
        calendars = ExchangeCalendars.from_prices(krx)
    assert len(record) == 1
    assert "XKRX (000660.KS, 005930.KS, ^KS11) 2026-06-03, 2026-07-17;" in str(record[0].message)
    assert pd.Timestamp("2026-06-03") not in calendars.sessions("XKRX")


def test_gap_in_the_only_instrument_is_missing_data_not_a_closure(no_packaged):
    # XKRX sessions 2025-03-10..2025-03-21 are the ten weekdays (no Korean holiday in between;
    # 2025-03-03 was the substitute holiday for Samiljeol, so the range starts after it).
    # One file alone cannot tell a closure from a hole in that file: the session stays open.
    days = pd.bdate_range("2025-03-10", "2025-03-21")
    with pytest.warns(DataGapWarning, match=r"005930.KS: 2025-03-14 \(1 XKRX session\)"):
        calendars = ExchangeCalendars.from_prices({"005930.KS": _bars(days.drop(pd.Timestamp("2025-03-14")))})
    assert list(calendars.closures("XKRX")) == []
    assert pd.Timestamp("2025-03-14") in calendars.sessions("XKRX")
    gaps = calendars.gaps
    assert gaps[["symbol", "first", "last", "n_sessions"]].values.tolist() == [
        ["005930.KS", pd.Timestamp("2025-03-14"), pd.Timestamp("2025-03-14"), 1]
    ]


def test_two_instruments_without_the_session_make_a_closure_only_within_their_spans(no_packaged):
    days = pd.bdate_range("2025-03-10", "2025-03-21")
    bars = _bars(days.drop(pd.Timestamp("2025-03-14")))
    with pytest.warns(CalendarWarning, match=r"XKRX \(005930.KS, \^KS11\) 2025-03-14;"):
        calendars = ExchangeCalendars.from_prices({"005930.KS": bars, "^KS11": bars})
    assert list(calendars.closures("XKRX")) == [pd.Timestamp("2025-03-14")]
    assert calendars.gaps.empty
    # Sessions outside the data span are untouched.
    assert pd.Timestamp("2025-03-07") in calendars.sessions("XKRX")
    assert pd.Timestamp("2025-03-24") in calendars.sessions("XKRX")


def test_one_instrument_trading_keeps_the_session_and_the_other_has_a_gap(no_packaged):
    days = pd.bdate_range("2025-03-10", "2025-03-21")
    with pytest.warns(DataGapWarning, match="000660.KS: 2025-03-12..2025-03-13 \\(2 XKRX sessions\\)"):
        calendars = ExchangeCalendars.from_prices({
            "005930.KS": _bars(days), "^KS11": _bars(days),
            "000660.KS": _bars(days.drop(pd.bdate_range("2025-03-12", "2025-03-13"))),
        })
    assert list(calendars.closures("XKRX")) == []
    assert calendars.gaps["n_sessions"].tolist() == [2]


def test_nvda_gap_keeps_day0_on_the_exchange_calendar(prices, no_packaged):
    # Trap 1 of issue 11: NVDA's rows for 2025-02..06 removed. Day 0 of Liberation Day
    # (announced 2025-04-02 16:00 New York, after the close) is 2025-04-03 on NASDAQ's own
    # calendar whatever one file holds; today's code moved it to 2025-07-01.
    from backtest.alignment import reaction_session

    nvda = prices["NVDA"]
    cut = nvda[~((nvda.index >= "2025-02-01") & (nvda.index <= "2025-06-30"))]
    # 102 = Feb 19 + Mar 21 + Apr 21 + May 21 + Jun 20 NASDAQ sessions (holidays: 02-17, 04-18, 05-26, 06-19)
    expected = r"NVDA: 2025-02-03..2025-06-30 \(102 NASDAQ sessions\) in .*NVDA.csv"
    with pytest.warns(DataGapWarning, match=expected):
        calendars = ExchangeCalendars.from_prices({"NVDA": cut, "SPY": prices["SPY"]})
    day0, _ = reaction_session(calendars, "NASDAQ", pd.Timestamp("2025-04-02T16:00:00-04:00"))
    assert day0 == pd.Timestamp("2025-04-03")


def test_rows_on_a_non_session_are_reported(no_packaged):
    days = [*pd.bdate_range("2025-03-10", "2025-03-14"), pd.Timestamp("2025-03-15")]  # a Saturday
    with pytest.warns(DataWarning, match=r"not sessions: JPX 2025-03-15;"):
        ExchangeCalendars.from_prices({"8035.T": _bars(days)})


def test_user_file_removes_a_packaged_closure(tmp_path):
    user = _write(tmp_path / "mine.csv", "calendar,date,action,note\nXKRX,2026-06-03,remove_closure,open\n")
    calendars = ExchangeCalendars.from_prices(None, overrides=user)
    assert pd.Timestamp("2026-06-03") in calendars.sessions("XKRX")
    assert pd.Timestamp("2026-07-17") not in calendars.sessions("XKRX")


def test_remove_closure_on_a_library_holiday_adds_a_session_with_local_hours(tmp_path):
    user = _write(tmp_path / "mine.csv", "calendar,date,action,note\nXKRX,2025-01-28,remove_closure,x\n")
    calendars = ExchangeCalendars.from_prices(None, overrides=user)
    schedule = calendars.schedule("XKRX", "2025-01-24", "2025-01-31")
    assert [d.strftime("%m-%d") for d in schedule.index] == ["01-24", "01-28", "01-31"]
    # KRX hours 09:00-15:30 KST = 00:00-06:30 UTC.
    assert schedule.loc["2025-01-28", "market_open"] == pd.Timestamp("2025-01-28 00:00", tz="UTC")
    assert schedule.loc["2025-01-28", "market_close"] == pd.Timestamp("2025-01-28 06:30", tz="UTC")


def test_user_add_closure_over_traded_day_warns_about_rows(prices, tmp_path):
    user = _write(tmp_path / "mine.csv", "calendar,date,action,note\nNASDAQ,2025-04-09,add_closure,x\n")
    nasdaq = {"NVDA": prices["NVDA"]}
    with pytest.warns(DataWarning, match="2025-04-09"):
        calendars = ExchangeCalendars.from_prices(nasdaq, overrides=user)
    assert pd.Timestamp("2025-04-09") not in calendars.sessions("NASDAQ")


def test_overrides_accept_bom_and_crlf(tmp_path):
    text = "calendar,date,action,note\nJPX,2025-03-05,add_closure,test\n"
    path = _write(tmp_path / "c.csv", text, bom=True, crlf=True)
    rows = read_overrides(path)
    assert [(r.calendar, r.date, r.action, r.note) for r in rows] == [
        ("JPX", pd.Timestamp("2025-03-05"), "add_closure", "test")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("calendar,date,action,note\nXKRX,2026-13-01,add_closure,\n", ":2: column 'date'"),
        ("calendar,date,action,note\nXKRX,2026-06-03,close,\n", ":2: column 'action'"),
        ("calendar,date,action,note\nKRX,2026-06-03,add_closure,\n", ":2: column 'calendar'"),
        ("calendar,date,note\nXKRX,2026-06-03,x\n", ":1: column 'action'"),
        ("", "empty file"),
    ],
)
def test_bad_overrides_file_names_line_and_column(tmp_path, text, expected):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(CalendarError) as info:
        ExchangeCalendars.from_prices(None, overrides=path)
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_closures_on_several_exchanges_come_in_one_warning(no_packaged):
    # 2025-03-12 is an ordinary Wednesday on KRX and TSE alike (no holiday in either country).
    days = pd.bdate_range("2025-03-10", "2025-03-14").drop(pd.Timestamp("2025-03-12"))
    with pytest.warns(CalendarWarning) as record:
        ExchangeCalendars.from_prices({"005930.KS": _bars(days), "^KS11": _bars(days),
                                       "8035.T": _bars(days), "^N225": _bars(days)})
    assert len(record) == 1
    message = str(record[0].message)
    assert "XKRX (005930.KS, ^KS11) 2025-03-12" in message and "JPX (8035.T, ^N225) 2025-03-12" in message


def test_rows_before_the_calendar_range_are_not_reported(no_packaged):
    # Rows in 1999 lie before 2000-01-01, where no calendar is built: nothing to compare, no
    # warning (1999-12-24, Christmas observed, was even an NYSE holiday). 2000-01-03..07 were sessions.
    days = [*pd.bdate_range("1999-12-20", "1999-12-31"), *pd.bdate_range("2000-01-03", "2000-01-07")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", BacktestWarning)
        calendars = ExchangeCalendars.from_prices({"SPY": _bars(days)})
    assert len(calendars.sessions("NYSE", "2000-01-03", "2000-01-07")) == 5


def test_schedules_cover_the_data_years_and_widen_on_demand(prices):
    # snapshot data run 2024-01 .. 2026-09: schedules for 2022..2028 (two years each side), not
    # 2000..2035; a query or an event outside that span widens it to the years asked for.
    from backtest.alignment import reaction_session

    calendars = ExchangeCalendars.from_prices(prices)
    assert calendars.years == (2022, 2028)
    sessions = calendars.sessions("NYSE")
    assert str(sessions[0].date()) == "2022-01-03" and str(sessions[-1].date()) == "2028-12-29"
    # NYSE, first week of 2031: Thursday 2 and Friday 3 January (New Year's Day a Wednesday)
    days = calendars.sessions("NYSE", "2031-01-01", "2031-01-05")
    assert [str(d.date()) for d in days] == ["2031-01-02", "2031-01-03"]
    assert calendars.years == (2022, 2031)
    # an announcement on Saturday 2033-07-02 reacts on Tuesday 07-05 (Monday 07-04 a holiday)
    day0, _ = reaction_session(calendars, "NYSE", pd.Timestamp("2033-07-02T12:00:00Z"))
    assert str(day0.date()) == "2033-07-05" and calendars.years == (2022, 2033)
    # closures found in the data stay removed after widening
    assert pd.Timestamp("2026-06-03") not in calendars.sessions("XKRX")
