"""Bar validation and the exchange-calendar check."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError, DataWarning
from backtest.validate import REL_TOL, check_calendar, off_calendar_dates, validate_bars


def bars(dates, opens, highs, lows, closes, volume=None):
    return pd.DataFrame(
        {
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": volume if volume is not None else [np.nan] * len(dates),
        },
        index=pd.DatetimeIndex(dates, name="date"),
    ).astype(float)


GOOD = bars(
    ["2025-01-24", "2025-01-27", "2025-01-28"], [10, 11, 12], [11, 12, 13], [9, 10, 11], [10.5, 11.5, 12.5]
)


def test_valid_bars_are_returned_unchanged():
    assert validate_bars(GOOD, "X", "x.csv") is GOOD


def test_limit_day_with_open_high_low_close_equal_is_valid():
    # 285A.T 2025-11-14 limit-down: O=H=L=C=10025 (PROVENANCE.md).
    frame = bars(["2025-11-14"], [10025.0], [10025.0], [10025.0], [10025.0])
    assert validate_bars(frame, "285A.T", "285A.T.csv") is frame


def test_rounding_within_tolerance_passes_but_a_real_gap_fails():
    # high a hair (half the tolerance) below close: rounding of adjusted prices, accepted.
    close = 100.0
    ok = bars(["2025-01-24"], [99.0], [close * (1 - REL_TOL / 2)], [98.0], [close])
    validate_bars(ok, "X", "x.csv")
    # high 0.01 % below close: a real inconsistency.
    bad = bars(["2025-01-24"], [99.0], [close * (1 - 1e-4)], [98.0], [close])
    with pytest.raises(DataError, match=r"high .* below max"):
        validate_bars(bad, "X", "x.csv")


@pytest.mark.parametrize(
    ("frame", "pattern"),
    [
        (
            bars(["2025-01-24", "2025-01-24"], [1, 1], [2, 2], [0.5, 0.5], [1, 1]),
            "2025-01-24: duplicate date",
        ),
        (
            bars(["2025-01-27", "2025-01-24"], [1, 1], [2, 2], [0.5, 0.5], [1, 1]),
            "2025-01-24: date out of order",
        ),
        (bars(["2025-01-24", "2025-01-27"], [1, 1], [2, 2], [0.5, 0.5], [1, 0]), "2025-01-27: close is 0"),
        (bars(["2025-01-24", "2025-01-27"], [1, -1], [2, 2], [0.5, 0.5], [1, 1]), "2025-01-27: open is -1"),
        (
            bars(["2025-01-24", "2025-01-27"], [1, np.nan], [2, 2], [0.5, 0.5], [1, 1]),
            "2025-01-27: open is nan",
        ),
        (
            bars(["2025-01-24", "2025-01-27"], [1, 1], [2, 1.5], [0.5, 0.5], [1, 1.8]),
            "2025-01-27: high 1.5 is below max",
        ),
        (
            bars(["2025-01-24", "2025-01-27"], [1, 1], [2, 2], [0.5, 1.2], [1, 1.5]),
            "2025-01-27: low 1.2 is above min",
        ),
    ],
)
def test_each_check_names_origin_symbol_and_first_bad_date(frame, pattern):
    with pytest.raises(DataError, match=f"^prices/X.csv: X {pattern}"):
        validate_bars(frame, "X", "prices/X.csv")


def test_first_line_adds_the_file_line():
    frame = bars(["2025-01-24", "2025-01-27", "2025-01-28"], [1, 1, 1], [2, 2, 2], [0.5, 0.5, 3], [1, 1, 1])
    # third row -> line 2 + 2 = 4 when the first row is on line 2
    with pytest.raises(DataError, match=r"^X.csv:4: X 2025-01-28: low 3"):
        validate_bars(frame, "X", "X.csv", first_line=2)


def test_shape_errors():
    with pytest.raises(DataError, match=r"missing column"):
        validate_bars(GOOD.drop(columns="volume"), "X", "x.csv")
    with pytest.raises(DataError, match=r"tz-naive"):
        validate_bars(GOOD.tz_localize("UTC"), "X", "x.csv")
    with pytest.raises(DataError, match=r"no rows"):
        validate_bars(GOOD.iloc[:0], "X", "x.csv")


def test_off_calendar_dates_use_the_exchange_calendar():
    # Independent facts (PROVENANCE.md): US closed 2025-01-09 (national day of mourning);
    # KRX closed 2025-01-27..30 (Lunar New Year), open 2025-01-31; 2025-01-25 is a Saturday.
    us = pd.DatetimeIndex(["2025-01-08", "2025-01-09", "2025-01-10", "2025-01-25"])
    assert list(off_calendar_dates(us, "NYSE").strftime("%Y-%m-%d")) == ["2025-01-09", "2025-01-25"]
    kr = pd.DatetimeIndex(["2025-01-24", "2025-01-27", "2025-01-30", "2025-01-31"])
    assert list(off_calendar_dates(kr, "XKRX").strftime("%Y-%m-%d")) == ["2025-01-27", "2025-01-30"]


def test_check_calendar_warns_once_with_the_dates_and_keeps_quiet_otherwise():
    weekend = bars(["2025-01-24", "2025-01-25"], [1, 1], [2, 2], [0.5, 0.5], [1, 1])
    with pytest.warns(DataWarning, match=r"NVDA: 1 row\(s\) .* not NASDAQ sessions \(2025-01-25\)"):
        off = check_calendar(weekend, "NVDA", "NVDA.csv")
    assert list(off) == [pd.Timestamp("2025-01-25")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(check_calendar(GOOD, "NVDA", "NVDA.csv")) == 0


def test_dates_outside_the_shared_range_are_still_checked():
    # 1999-12-24 (Friday) the NYSE was closed for Christmas (Dec 25 fell on a Saturday);
    # 1999-12-23 was a normal session; 2036-01-05 is a Saturday, 2036-01-07 a Monday.
    days = pd.DatetimeIndex(["1999-12-23", "1999-12-24", "2025-01-24", "2036-01-05", "2036-01-07"])
    assert list(off_calendar_dates(days, "NYSE").strftime("%Y-%m-%d")) == ["1999-12-24", "2036-01-05"]


def test_loading_seven_symbols_builds_each_exchange_calendar_once():
    # 4 targets + 3 benchmarks on 4 calendars (NASDAQ, XKRX, JPX, NYSE): 4 builds, 3 reuses.
    # A fresh CsvSource over the snapshot files (the snapshot source caches its own loads).
    from backtest import calendars
    from backtest.sources.csvdir import CsvSource
    from backtest.sources.snapshot import snapshot_dir

    calendars._library.cache_clear()
    source = CsvSource(snapshot_dir())
    for symbol in ("NVDA", "000660.KS", "005930.KS", "285A.T", "SPY", "^KS11", "^N225"):
        source.load(symbol)
    info = calendars._library.cache_info()
    assert (info.misses, info.hits) == (4, 3)
