"""One recovery vocabulary: each contradiction issue 10 listed has a test here.

The paths are written by hand (pre-event close 100 on day -1) so the expected words and
numbers follow from the definitions in ``backtest/recovery/paths.py``, not from the code.
"""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.recovery.paths import path_metrics
from backtest.recovery.status import recovery_status
from backtest.report.charts import _bar_label
from backtest.report.tables import recovery_table


def _row(values: list[float], direction: str = "drawdown", horizon: int = 60) -> dict[str, object]:
    dates = pd.bdate_range("2025-01-24", periods=len(values))
    row = path_metrics(dates, values, horizon=horizon, direction=direction).to_dict()
    row.update(event_id="e", symbol="NVDA", path="price", measurable=True, unmeasured_reason=None)
    row["status"] = recovery_status(row)
    return row


def _cells(rows: list[dict[str, object]], horizon: int = 60) -> pd.DataFrame:
    table = recovery_table(pd.DataFrame(rows), horizon)
    cells = table.formatted()
    cells.columns = [table.header(c) for c in cells.columns]
    return cells


def test_rose_on_day_0_then_fell_is_not_a_recovery_in_0_sessions() -> None:
    # day 0 closes at 103 (+3 %), then the stock falls to 75.5 (-24.5 % vs 100) and stays below 100
    row = _row([100.0, 103.0, 90.0, 75.5, 80.0, 85.0])
    assert row["max_drawdown"] == pytest.approx(-0.245)
    assert row["status"] == "fell after day 0, not recovered (end of data)"
    cells = _cells([row]).iloc[0]
    assert cells["back\nafter"] == "—"  # not "0": day 0 was no recovery
    assert cells["max move"] == "-24.50 %" and cells["extreme\non day"] == "2"
    label = _bar_label(pd.Series(row), 60)
    assert label.startswith("fell after day 0, not recovered") and "0 sessions" not in label
    assert "fell back later" not in label


def test_fell_after_day_0_and_came_back_is_timed_from_the_extreme() -> None:
    # up on day 0, down to 90 on day +1, back to 100 on day +3: two sessions from the extreme
    row = _row([100.0, 101.0, 90.0, 95.0, 100.0, 102.0])
    assert row["status"] == "fell after day 0, recovered"
    cells = _cells([row]).iloc[0]
    assert cells["back from\nextreme"] == "2" and cells["back\nafter"] == "—"
    assert _bar_label(pd.Series(row), 60).startswith("fell after day 0, recovered on day +3")


def test_relief_not_given_back_says_so() -> None:
    # relief: jump from 100 to 120 on day 0, still above 100 at the end: the jump was kept
    row = _row([100.0, 120.0, 125.0, 118.0, 121.0], direction="give_back")
    assert row["status"] == "not given back (end of data)"
    label = _bar_label(pd.Series(row), 60)
    assert label.startswith("not given back") and "not back within" not in label
    assert "largest run-up +25.0 %" in label


def test_relief_given_back() -> None:
    row = _row([100.0, 110.0, 104.0, 99.0, 101.0], direction="give_back")
    assert row["status"] == "given back, rose again"  # at 99 on day +2, above 100 again on +3
    assert _cells([row]).iloc[0]["back\nafter"] == "2"


def test_no_move_rows_show_no_extreme_day_no_move_and_no_sessions() -> None:
    # never below the pre-event close: the lowest close (day +26 in the issue) is no "extreme"
    row = _row([100.0, 104.0, 101.0, 100.5, 108.0])
    assert row["status"] == "no move"
    cells = _cells([row]).iloc[0]
    assert cells["extreme\non day"] == "—" and cells["back\nafter"] == "—" and cells["max move"] == "—"
    assert _bar_label(pd.Series(row), 60) == "no move"


def test_ratio_columns_stop_at_the_horizon() -> None:
    row = _row([100.0, 90.0, 95.0, 100.0])
    headers = list(_cells([row], horizon=40).columns)
    assert "R+20" in headers and "R+60" not in headers
    assert "R+5" not in list(_cells([row], horizon=3).columns)


def test_not_measurable_names_its_reason() -> None:
    row = {"measurable": False, "unmeasured_reason": "no pre-event close: prices start 2024-01-02"}
    assert recovery_status(row) == "not measurable (no pre-event close: prices start 2024-01-02)"
