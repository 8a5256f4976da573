"""Pure path metrics on hand-built paths; every expected value is derived in the comments.

Dates: business days from Monday 2025-01-06, so position i (relative day i - 1) is
  i=0 Mon 01-06 (day -1), i=1 Tue 01-07 (day 0), i=2 Wed 01-08 (+1), i=3 Thu 01-09 (+2),
  i=4 Fri 01-10 (+3), i=5 Mon 01-13 (+4), i=6 Tue 01-14 (+5).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from backtest.errors import ParameterError
from backtest.recovery import path_metrics

DATES = pd.bdate_range("2025-01-06", periods=7)
TOL = 1e-12


def day(k: int) -> pd.Timestamp:
    """Date of relative day k."""
    return DATES[k + 1]


def test_v_shape() -> None:
    # closes day -1..+4: 100, 80, 70, 85, 100, 110
    m = path_metrics(DATES[:6], [100, 80, 70, 85, 100, 110], horizon=4, ratio_days=(0, 1, 2, 3, 4, 5))
    assert m.direction == "drawdown"
    assert m.pre_event_close == 100 and m.pre_event_date == day(-1)
    assert m.reaction_return == pytest.approx(80 / 100 - 1, abs=TOL)  # -0.20
    # lowest close from day 0 on: 70 on day +1 (Wed 01-08); drawdown 70/100 - 1 = -0.30
    assert (m.trough_rel_day, m.trough_date, m.trough_close) == (1, day(1), 70)
    assert m.max_drawdown == pytest.approx(-0.30, abs=TOL)
    # first close >= 100 from day 0 on: day +3 (Fri 01-10) -> 3 sessions, 10 - 7 = 3 calendar days
    assert m.recovered and m.censored_by is None
    assert (m.recovery_sessions, m.recovery_days, m.recovery_date) == (3, 3, day(3))
    assert m.duration_sessions == 3
    # ratio (P_k - 70) / (100 - 70) from the trough day (+1) on: day1 0, day2 15/30, day3 1, day4 40/30;
    # day 0 is before the trough (was 10/30 before the climb-back rule): NaN; day 5 not observed: NaN
    expected = {1: 0.0, 2: 0.5, 3: 1.0, 4: 4 / 3}
    for k, value in expected.items():
        assert m.ratios[k] == pytest.approx(value, abs=TOL)
    assert math.isnan(m.ratios[0]) and math.isnan(m.ratios[5])
    # half-life: first day at/after the trough (+1) with ratio >= 0.5 -> day +2 (Thu 01-09)
    assert (m.half_life_sessions, m.half_life_date) == (2, day(2))
    assert (m.last_rel_day, m.last_date_seen, m.n_missing) == (4, day(4), 0)
    # after the recovery on +3: +4 110 >= 100, never below again -> not relapsed; moved (70 < 100)
    assert m.moved is True and m.relapsed is False
    # from the trough (+1) to the first close >= 100 at/after it (+3): 2 sessions
    assert m.recovered_after_trough is True and m.trough_censored_by is None
    assert m.recovery_from_trough_sessions == 2
    assert m.unmeasured is None


def test_ratios_before_the_trough_are_nan() -> None:
    # closes day -1..+3: 100, 90, 95, 80, 100 -> trough 80 on day +2, P_pre - P_T = 20
    m = path_metrics(DATES[:5], [100, 90, 95, 80, 100], horizon=3, ratio_days=(0, 1, 2, 3))
    assert m.trough_rel_day == 2
    # days 0 and +1 come before the trough: nothing to climb back from yet -> NaN
    # (the old rule gave (90 - 80) / 20 = 0.5 and (95 - 80) / 20 = 0.75 against a future trough)
    assert math.isnan(m.ratios[0]) and math.isnan(m.ratios[1])
    # day +2: (80 - 80) / 20 = 0; day +3: (100 - 80) / 20 = 1
    assert m.ratios[2] == 0.0 and m.ratios[3] == pytest.approx(1.0, abs=TOL)
    # half-life: first day >= +2 with ratio >= 0.5 -> +3 (a ratio of 0.75 on +1 does not count)
    assert m.half_life_sessions == 3


def test_relapse_after_the_first_recovery_and_recovery_from_the_trough() -> None:
    # closes day -1..+4: 100, 95, 101, 90, 99, 102
    m = path_metrics(DATES[:6], [100, 95, 101, 90, 99, 102], horizon=4, ratio_days=(1, 3, 4))
    # first close >= 100: 101 on day +1 -> recovery_sessions 1 (Wed 01-08)
    assert (m.recovered, m.recovery_sessions, m.recovery_date) == (True, 1, day(1))
    # then 90 on +2 < 100: relapsed; the trough (90, +2) comes after the recovery
    assert m.relapsed is True and (m.trough_rel_day, m.trough_close) == (2, 90)
    # from the trough: 99 on +3 < 100, 102 on +4 >= 100 -> 4 - 2 = 2 sessions
    assert (m.recovered_after_trough, m.recovery_from_trough_sessions) == (True, 2)
    # ratios (P_k - 90) / 10: +1 before the trough -> NaN; +3 9/10 = 0.9; +4 12/10 = 1.2
    assert math.isnan(m.ratios[1])
    assert m.ratios[3] == pytest.approx(0.9, abs=TOL) and m.ratios[4] == pytest.approx(1.2, abs=TOL)
    # half-life: first day >= +2 with ratio >= 0.5 -> +3
    assert m.half_life_sessions == 3


def test_relapse_not_recovered_from_the_trough_is_censored_like_the_recovery() -> None:
    # closes day -1..+2: 100, 101, 90, 95 with horizon 2: back on day 0 (101), then down to 90 (+1)
    m = path_metrics(DATES[:4], [100, 101, 90, 95], horizon=2)
    assert (m.recovered, m.recovery_sessions, m.censored_by, m.relapsed) == (True, 0, None, True)
    # from the trough (+1): 95 on +2 < 100 and the horizon (+2) is reached -> censored by the horizon
    assert (m.recovered_after_trough, m.recovery_from_trough_sessions, m.trough_censored_by) == (
        False, None, "horizon")
    # the same path with horizon 5: the data stop at +2 -> censored by the end of the data
    m = path_metrics(DATES[:4], [100, 101, 90, 95], horizon=5)
    assert m.trough_censored_by == "end_of_data"


def test_never_recovered_has_no_relapse_flag() -> None:
    # 100, 90, 85, 88: never back at 100 -> relapse undefined (None), not False
    m = path_metrics(DATES[:4], [100, 90, 85, 88], horizon=2)
    assert not m.recovered and m.relapsed is None
    assert (m.recovered_after_trough, m.trough_censored_by) == (False, "horizon")


def test_never_recovers_is_censored_at_the_horizon() -> None:
    # closes day -1..+3: 100, 90, 85, 88, 86; horizon 3 -> every day observed, none >= 100
    m = path_metrics(DATES[:5], [100, 90, 85, 88, 86], horizon=3)
    assert not m.recovered
    assert m.censored_by == "horizon"
    assert m.recovery_sessions is None and m.recovery_days is None and pd.isna(m.recovery_date)
    # censored: the last date seen is day +3 (Fri 01-10), duration = 3 sessions (KM input)
    assert (m.last_date_seen, m.last_rel_day, m.duration_sessions) == (day(3), 3, 3)
    # trough 85 on day +1, drawdown -0.15; ratio +1 = 0, ratio +3 = (86 - 85) / 15
    assert (m.trough_rel_day, m.max_drawdown) == (1, pytest.approx(-0.15, abs=TOL))
    assert m.ratios[1] == 0.0
    # ratios after the trough: +2 3/15 = 0.2, +3 1/15 -> never 0.5: no half-life
    assert m.half_life_sessions is None and pd.isna(m.half_life_date)
    # ratio +5, +20, +60: beyond the horizon, not observed -> NaN
    assert all(math.isnan(m.ratios[k]) for k in (5, 20, 60))


def test_path_cut_by_the_data_is_censored_at_end_of_data() -> None:
    # the same path with horizon 10: the data stop at day +3, before the horizon
    m = path_metrics(DATES[:5], [100, 90, 85, 88, 86], horizon=10)
    assert not m.recovered
    assert (m.censored_by, m.last_rel_day, m.last_date_seen) == ("end_of_data", 3, day(3))


def test_recovers_on_day_0_itself() -> None:
    # closes day -1..+3: 100, 101, 95, 99, 102 -> day 0 close 101 >= 100: recovered on day 0
    m = path_metrics(DATES[:5], [100, 101, 95, 99, 102], horizon=3)
    assert m.recovered
    assert (m.recovery_sessions, m.recovery_days, m.recovery_date) == (0, 0, day(0))
    assert m.reaction_return == pytest.approx(0.01, abs=TOL)
    # a later dip still shows as the trough: 95 on day +1, -0.05
    assert (m.trough_rel_day, m.max_drawdown) == (1, pytest.approx(-0.05, abs=TOL))
    # ratio +1 = (95 - 95) / 5 = 0; half-life: day +2, (99 - 95) / 5 = 0.8 >= 0.5
    assert m.ratios[1] == 0.0
    assert m.half_life_sessions == 2


def test_close_equal_to_pre_event_close_counts_as_recovered() -> None:
    # ">= P_pre": day 0 close exactly 100 -> recovered on day 0; trough 98 on day +1
    m = path_metrics(DATES[:3], [100, 100, 98], horizon=1)
    assert m.recovered and m.recovery_sessions == 0
    assert m.trough_rel_day == 1 and m.max_drawdown == pytest.approx(-0.02, abs=TOL)


def test_no_drawdown() -> None:
    # closes day -1..+2: 100, 105, 110, 108 -> never below 100
    m = path_metrics(DATES[:4], [100, 105, 110, 108], horizon=2)
    # lowest close from day 0: 105 on day 0; no drawdown -> max_drawdown 0 (not +0.05)
    assert (m.trough_rel_day, m.trough_close, m.max_drawdown) == (0, 105, 0.0)
    assert m.recovered and m.recovery_sessions == 0
    # ratios are defined only after a drawdown: all NaN; no half-life
    assert all(math.isnan(v) for v in m.ratios.values())
    assert m.half_life_sessions is None
    # flagged: the day-0 "recovery" is trivial (never left the pre-event close)
    assert m.moved is False and m.relapsed is False


def test_no_move_for_a_relief_event_that_falls() -> None:
    # relief (give-back): 100, 95, 97 -> the highest value from day 0 on is 97 (+1), below 100:
    # run-up max(97/100 - 1, 0) = 0, never above the pre-event close -> no move
    m = path_metrics(DATES[:3], [100, 95, 97], horizon=1, direction="give_back")
    assert (m.moved, m.max_drawdown, m.recovered, m.recovery_sessions) == (False, 0.0, True, 0)


def test_missing_sessions_are_carried_forward_and_counted() -> None:
    # closes day -1..+3: 100, 90, NaN, NaN, 101 -> carried forward: 100, 90, 90, 90, 101
    m = path_metrics(DATES[:5], [100, 90, math.nan, math.nan, 101], horizon=3)
    assert m.n_missing == 2
    # trough: 90, first on day 0; drawdown -0.10
    assert (m.trough_rel_day, m.trough_date, m.max_drawdown) == (0, day(0), pytest.approx(-0.10, abs=TOL))
    # recovered on day +3 (101 >= 100), Fri 01-10: 3 sessions, 10 - 7 = 3 calendar days
    assert (m.recovered, m.recovery_sessions, m.recovery_days) == (True, 3, 3)
    # ratio +1 uses the carried 90: (90 - 90) / 10 = 0; ratio at +3 = 11 / 10 -> half-life +3
    assert m.ratios[1] == 0.0
    assert m.half_life_sessions == 3


def test_missing_pre_event_close_is_filled_from_the_prior_close() -> None:
    # day -1 missing, last close before the window 100; day 0 95, day +1 100
    m = path_metrics(DATES[:3], [math.nan, 95, 100], horizon=1, prior_value=100.0)
    assert (m.pre_event_close, m.n_missing) == (100.0, 1)
    assert m.reaction_return == pytest.approx(-0.05, abs=TOL)
    assert m.recovered and m.recovery_sessions == 1


def test_give_back_mirrors_the_path_for_relief_events() -> None:
    # relief: 100, 120, 125, 110, 99 -> peak 125 on day +1 (run-up +0.25)
    m = path_metrics(DATES[:5], [100, 120, 125, 110, 99], horizon=3, direction="give_back")
    assert m.direction == "give_back"
    assert m.reaction_return == pytest.approx(0.20, abs=TOL)
    assert (m.trough_rel_day, m.trough_close, m.max_drawdown) == (1, 125, pytest.approx(0.25, abs=TOL))
    # whole jump given back: first close <= 100 from day 0 -> day +3 (99)
    assert m.recovered and m.recovery_sessions == 3
    # share given back (P_k - 125) / (100 - 125): +1 -> 0, +2 -> 15/25 = 0.6 -> half-life +2
    assert m.ratios[1] == 0.0
    assert m.half_life_sessions == 2


def test_give_back_not_given_back_is_censored() -> None:
    # relief that holds: 100, 110, 112, 111 -> never <= 100 by the horizon (2)
    m = path_metrics(DATES[:4], [100, 110, 112, 111], horizon=2, direction="give_back")
    assert not m.recovered and m.censored_by == "horizon"
    assert m.max_drawdown == pytest.approx(0.12, abs=TOL)


def test_ties_take_the_first_trough_and_extra_days_are_ignored() -> None:
    # 100, 90, 95, 90, 120, 50 with horizon 3: the 50 on day +4 is beyond the horizon
    m = path_metrics(DATES[:6], [100, 90, 95, 90, 120, 50], horizon=3)
    assert (m.trough_rel_day, m.trough_close) == (0, 90)
    assert (m.last_rel_day, m.recovery_sessions) == (3, 3)


def test_event_with_no_session_after_it_is_explicitly_censored() -> None:
    # only the pre-event close exists: nothing observed after it
    m = path_metrics(DATES[:1], [100.0], horizon=5)
    assert not m.recovered and m.censored_by == "end_of_data"
    assert (m.last_rel_day, m.last_date_seen, m.duration_sessions) == (-1, day(-1), None)
    assert math.isnan(m.max_drawdown) and m.trough_rel_day is None
    assert m.unmeasured == "no_session_after" and m.moved is None and m.relapsed is None


def test_no_pre_event_close_cannot_be_measured() -> None:
    m = path_metrics(DATES[:3], [math.nan, 90, 95], horizon=1)
    assert not m.recovered and math.isnan(m.pre_event_close) and m.duration_sessions is None
    # not measurable, and not censored (nothing was followed): no last date, no censoring reason
    assert m.unmeasured == "no_pre_event_close"
    assert m.censored_by is None and pd.isna(m.last_date_seen) and m.last_rel_day is None


@pytest.mark.parametrize("horizon", [0, -1, 2.5, True, "60"])
def test_bad_horizon_is_a_parameter_error(horizon: object) -> None:
    with pytest.raises(ParameterError, match="horizon"):
        path_metrics(DATES[:3], [100, 90, 95], horizon=horizon)  # type: ignore[arg-type]


def test_bad_shapes_and_direction_are_parameter_errors() -> None:
    with pytest.raises(ParameterError, match="same length"):
        path_metrics(DATES[:3], [100, 90], horizon=1)
    with pytest.raises(ParameterError, match="direction"):
        path_metrics(DATES[:3], [100, 90, 95], horizon=1, direction="up")  # type: ignore[arg-type]


def test_to_dict_flattens_ratios() -> None:
    row = path_metrics(DATES[:4], [100, 80, 90, 100], horizon=2, ratio_days=(1, 2)).to_dict()
    # ratios (P_k - 80) / 20: +1 -> 0.5, +2 -> 1.0
    assert row["ratio_1"] == pytest.approx(0.5) and row["ratio_2"] == pytest.approx(1.0)
    assert "ratios" not in row


def test_back_on_day_0_then_a_later_fall_counts_from_the_trough() -> None:
    # closes day -1..+5: 100, 101, 95, 90, 88, 95, 100
    m = path_metrics(DATES[:7], [100, 101, 95, 90, 88, 95, 100], horizon=5)
    # by the definition it is "back" on day 0 (101 >= 100) and then relapses
    assert (m.recovered, m.recovery_sessions, m.relapsed) == (True, 0, True)
    # the fall that matters bottoms at 88 on day +3 (-12 %); the first close >= 100 on or after
    # it is day +5: that is the Kaplan-Meier duration, not 0
    assert (m.trough_rel_day, m.max_drawdown) == (3, pytest.approx(-0.12, abs=TOL))
    assert (m.recovered_after_trough, m.recovery_from_trough_sessions, m.duration_sessions) == (True, 2, 5)
