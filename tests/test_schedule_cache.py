"""Library schedules kept on disk: built once, read back identical, rebuilt when unreadable."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest import schedule_cache
from backtest.calendars import _build_library


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(schedule_cache.CACHE_ENV, str(tmp_path))
    return tmp_path


def test_schedule_is_built_once_and_read_back_identical(cache):
    builds = []

    def build():
        builds.append(1)
        return _build_library("NYSE", (2025, 2025))

    first, tz = schedule_cache.cached_schedule("NYSE", (2025, 2025), build)
    again, tz_again = schedule_cache.cached_schedule("NYSE", (2025, 2025), build)
    assert len(builds) == 1 and tz == tz_again == "America/New_York"
    pd.testing.assert_frame_equal(again, first)
    # 2025: 261 weekdays minus 10 NYSE holidays and the national day of mourning on 01-09 = 250
    assert len(first) == 250 and schedule_cache.is_cached("NYSE") and not schedule_cache.is_cached("JPX")
    # the day after Thanksgiving closes at 13:00 New York time = 18:00 UTC
    assert first.loc["2025-11-28", "market_close"] == pd.Timestamp("2025-11-28 18:00", tz="UTC")


def test_an_unreadable_file_is_rebuilt(cache):
    path = schedule_cache.schedule_path("NYSE", (2025, 2025))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not parquet")
    schedule, _ = schedule_cache.cached_schedule("NYSE", (2025, 2025),
                                                 lambda: _build_library("NYSE", (2025, 2025)))
    assert len(schedule) == 250
    assert schedule_cache.cached_schedule("NYSE", (2025, 2025), lambda: 1 / 0)[0].equals(schedule)
