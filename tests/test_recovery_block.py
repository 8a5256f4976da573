"""The per-block arrays behind recovery at scale (backtest.recovery.block), against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.errors import CalendarError
from backtest.recovery.block import BlockSessions, Closes, PathColumns, StudyARs, as_ns, block_spans, carried

DAYS = pd.DatetimeIndex(["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07", "2025-01-08",
                         "2025-01-09", "2025-01-10"], name="session")


class _Calendars:
    """Sessions of one calendar, counting the queries (a block must ask once per calendar)."""

    def __init__(self) -> None:
        self.calls = 0

    def sessions(self, calendar: str, start: object, end: object) -> pd.DatetimeIndex:
        self.calls += 1
        return DAYS[(DAYS >= pd.Timestamp(start)) & (DAYS <= pd.Timestamp(end))]


def test_carried_fills_nan_from_the_last_value_and_the_prior_before_it() -> None:
    out = carried(np.array([np.nan, 10.0, np.nan, np.nan, 12.0, np.nan]), 9.0)
    np.testing.assert_array_equal(out, [9.0, 10.0, 10.0, 10.0, 12.0, 12.0])
    assert np.isnan(carried(np.array([np.nan, 1.0]), math.nan)[0])


def test_closes_on_dates_with_gaps_and_the_prior_close() -> None:
    # Rows on Jan 2, 3 (NaN close), 7, 8; nothing on Jan 6.
    bars = pd.DataFrame({"close": [100.0, np.nan, 103.0, 104.0]},
                        index=pd.DatetimeIndex(["2025-01-02", "2025-01-03", "2025-01-07", "2025-01-08"]))
    closes = Closes.of("X", bars)
    assert (closes.first, closes.last) == (pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-08"))
    values, prior = closes.on(as_ns(DAYS[1:5]))  # Jan 3, 6, 7, 8
    np.testing.assert_array_equal(values, [np.nan, np.nan, 103.0, 104.0])
    assert prior == 100.0  # Jan 2: the last close before Jan 3
    _, prior = closes.on(as_ns(DAYS[:1]))
    assert math.isnan(prior)  # nothing before the first row
    assert Closes.of("Y", pd.DataFrame({"close": [np.nan]}, index=DAYS[:1])) is None


def test_windows_are_slices_of_one_query_per_calendar() -> None:
    calendars = _Calendars()
    reactions = [pd.Timestamp("2025-01-06"), pd.Timestamp("2025-01-08")]
    lasts = [pd.Timestamp("2025-01-10"), pd.Timestamp("2025-01-09")]
    spans = block_spans(reactions, ["X", "X"], lasts)
    assert spans == {"X": (pd.Timestamp("2024-11-27"), pd.Timestamp("2025-01-10"))}  # Jan 6 - 40 days
    sessions = BlockSessions(calendars, spans)
    dates, day0 = sessions.window("X", reactions[0], lasts[0], horizon=2)  # day -1 .. day +2
    assert day0 and list(pd.DatetimeIndex(dates)) == list(DAYS[1:5])
    dates, day0 = sessions.window("X", reactions[1], lasts[1], horizon=5)  # cut by the data on Jan 9
    assert day0 and list(pd.DatetimeIndex(dates)) == list(DAYS[3:6])
    dates, day0 = sessions.window("X", reactions[1], pd.Timestamp("2025-01-07"), horizon=5)  # day -1 only
    assert not day0 and list(pd.DatetimeIndex(dates)) == [DAYS[3]]
    dates, day0 = sessions.window("X", reactions[1], pd.Timestamp("2025-01-03"), horizon=5)  # ends before
    assert not day0 and dates.size == 0
    assert calendars.calls == 1
    with pytest.raises(CalendarError, match="2025-01-04 is not a session of X"):
        sessions.window("X", pd.Timestamp("2025-01-04"), lasts[0], horizon=2)
    with pytest.raises(CalendarError, match="no session in the 40 days before 2025-01-02"):
        sessions.window("X", pd.Timestamp("2025-01-02"), lasts[0], horizon=2)


def test_study_level_sums_ars_with_gaps_and_a_trailing_end() -> None:
    ars = pd.DataFrame({
        "event_id": ["e"] * 5 + ["f"], "symbol": ["A"] * 5 + ["A"],
        "rel_day": [-1, 0, 1, 2, 3, 0], "benchmark": ["SPY"] * 6,
        "ar": [0.5, -0.10, np.nan, 0.04, np.nan, 0.2],
        "missing": [False, False, True, False, True, False],
    })
    study = StudyARs(ars, "ar")
    rows = study.rows("e", "A")
    assert list(rows) == [0, 1, 2, 3, 4] and study.rows("e", "B") is None and study.benchmark(rows) == "SPY"
    # 6 dates = day -1 .. day +4; ARs reach day 3 and day 3 is missing: the data end after day 2.
    level, reason = study.level(rows, 6)
    np.testing.assert_allclose(level, [1.0, 0.90, np.nan, 0.94], rtol=0, atol=1e-15)  # 1 - .10 + .04
    assert reason == "end_of_data"
    # A window longer than the study's (day 0 only for event f): censored by the study window.
    level, reason = study.level(study.rows("f", "A"), 4)
    np.testing.assert_allclose(level, [1.0, 1.2], rtol=0, atol=1e-15)
    assert reason == "study_window"


def test_path_columns_frame_every_pair_at_once() -> None:
    paths = PathColumns()
    paths.add("e", "A", DAYS.values[:3], np.array([np.nan, 110.0, np.nan]), 100.0, 100.0,
              np.array([1.0, 0.95]))
    paths.add("e", "B", DAYS.values[2:4], np.array([50.0, 40.0]), math.nan, 50.0, None)
    (frame,) = paths.frames()
    expected = pd.DataFrame({
        "event_id": ["e"] * 5, "symbol": ["A", "A", "A", "B", "B"], "rel_day": [-1, 0, 1, -1, 0],
        "date": DAYS.values[[0, 1, 2, 2, 3]], "close": [100.0, 110.0, 110.0, 50.0, 40.0],
        "missing": [True, False, True, False, False], "rebased": [100.0, 110.0, 110.0, 100.0, 80.0],
        "cum_ar": [0.0, -0.05, np.nan, np.nan, np.nan],
    })
    pd.testing.assert_frame_equal(frame, expected, check_exact=False, rtol=0, atol=1e-12)
    assert PathColumns().frames() == []
