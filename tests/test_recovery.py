"""Recovery orchestration on the real snapshot prices, and the Kaplan-Meier summary.

Expected values are read from the raw CSV rows of ``backtest/data/prices`` (quoted in
the comments with their dates) or from PROVENANCE.md's event-day table (2 decimals,
hence the 1e-4 tolerance on returns taken from it).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtest.calendars import ExchangeCalendars
from backtest.errors import CalendarError, DataError, DataWarning, ParameterError
from backtest.recovery import data_horizon, km_median, km_share_recovered, recovery, summarize
from backtest.sources import load_prices

SYMBOLS = ["NVDA", "000660.KS", "005930.KS", "285A.T", "SPY", "^KS11", "^N225"]
T = pd.Timestamp


@pytest.fixture(scope="module")
def prices() -> dict[str, pd.DataFrame]:
    return load_prices(SYMBOLS)


@pytest.fixture(scope="module")
def calendars(prices: dict[str, pd.DataFrame]) -> ExchangeCalendars:
    return ExchangeCalendars.from_prices(prices)


def alignment(*rows: tuple[str, str, str, str, str]) -> pd.DataFrame:
    """Hand-built align_symbols output: (event_id, symbol, calendar, reaction_session, kind)."""
    frame = pd.DataFrame(rows, columns=["event_id", "symbol", "calendar", "reaction_session", "kind"])
    frame["reaction_session"] = pd.to_datetime(frame["reaction_session"])
    return frame


def row(result, symbol: str, path: str = "price", event_id: str | None = None) -> pd.Series:
    table = result.table
    mask = (table["symbol"] == symbol) & (table["path"] == path)
    if event_id is not None:
        mask &= table["event_id"] == event_id
    assert mask.sum() == 1
    return table[mask].iloc[0]


def test_nvda_deepseek_never_recovers_within_60_sessions(prices, calendars) -> None:
    res = recovery(prices, alignment(("ds", "NVDA", "NASDAQ", "2025-01-27", "shock")), calendars)
    r = row(res, "NVDA")
    # NVDA.csv: 2025-01-24 close 142.2481 (day -1); 2025-01-27 close 118.1112 (-16.97 %, PROVENANCE)
    assert (r["pre_event_date"], r["pre_event_close"]) == (T("2025-01-24"), 142.2481)
    assert r["reaction_return"] == pytest.approx(-0.1697, abs=1e-4)
    # NVDA.csv rows 2025-01-27 .. 2025-04-23 are days 0..+60 (every NASDAQ session has a row):
    # lowest close 94.0728 on 2025-04-04 (the 49th row, day +48); no close >= 142.2481 among them
    assert (r["trough_date"], r["trough_rel_day"], r["trough_close"]) == (T("2025-04-04"), 48, 94.0728)
    assert r["max_drawdown"] == pytest.approx(94.0728 / 142.2481 - 1, abs=1e-12)
    assert not r["recovered"] and r["censored_by"] == "horizon"
    assert (r["last_date_seen"], r["last_rel_day"], r["duration_sessions"]) == (T("2025-04-23"), 60, 60)
    assert pd.isna(r["recovery_sessions"]) and pd.isna(r["recovery_date"])
    # ratios measure the climb back from the trough (+48): +1, +5 and +20 come before it -> NaN;
    # +60: NVDA.csv 2025-04-23 close 102.4516 -> (102.4516 - 94.0728) / (142.2481 - 94.0728) = 0.17392
    assert math.isnan(r["ratio_1"]) and math.isnan(r["ratio_5"]) and math.isnan(r["ratio_20"])
    assert r["ratio_60"] == pytest.approx(8.3788 / 48.1753, abs=1e-5)
    assert r["measurable"] and r["moved"] and pd.isna(r["relapsed"])
    # market-adjusted day 0: NVDA -16.97 % minus SPY -1.41 % (PROVENANCE) = -15.56 %
    a = row(res, "NVDA", "abnormal")
    assert a["benchmark"] == "SPY" and a["ar_source"] == "market_adjusted"
    assert a["reaction_return"] == pytest.approx(-0.1556, abs=1e-4)
    day0 = res.paths[(res.paths["symbol"] == "NVDA") & (res.paths["rel_day"] == 0)].iloc[0]
    assert day0["cum_ar"] == pytest.approx(-0.1556, abs=1e-4)


def test_samsung_deepseek_v_shape_across_the_lunar_new_year(prices, calendars) -> None:
    # KRX closed 2025-01-27..30: day -1 = 2025-01-24, day 0 = 2025-01-31. 005930.KS.csv closes:
    # -1 01-24 52399.832 | 0 01-31 51131.3086 | +1 02-03 49765.1992 | +2 02-04 51424.043
    # +3 02-05 51619.1992 | +4 02-06 52692.5664 | +5 02-07 52399.832
    al = alignment(("ds", "005930.KS", "XKRX", "2025-01-31", "shock"))
    res = recovery(prices, al, calendars, horizon=5)
    r = row(res, "005930.KS")
    pre, low = 52399.832, 49765.1992
    assert r["reaction_return"] == pytest.approx(-0.0242, abs=1e-4)  # PROVENANCE -2.42 %
    assert (r["trough_rel_day"], r["trough_date"], r["trough_close"]) == (1, T("2025-02-03"), low)
    assert r["max_drawdown"] == pytest.approx(low / pre - 1, abs=1e-12)  # -5.03 %
    # first close >= 52399.832: +4 (52692.5664) on 02-06, 6 calendar days after 01-31
    assert (r["recovered"], r["recovery_sessions"], r["recovery_days"]) == (True, 4, 6)
    assert r["recovery_date"] == T("2025-02-06")
    # ratios (P_k - low) / (pre - low), pre - low = 2634.6328: +1 -> 0, +5 -> exactly 1 (close = pre)
    assert r["ratio_1"] == 0.0 and r["ratio_5"] == pytest.approx(1.0, abs=1e-12)
    # half-life: +2, (51424.043 - 49765.1992) / 2634.6328 = 0.6296 >= 0.5
    assert r["half_life_sessions"] == 2
    assert math.isnan(r["ratio_20"]) and math.isnan(r["ratio_60"])  # beyond the horizon
    path = res.paths[res.paths["symbol"] == "005930.KS"].set_index("rel_day")
    assert list(path.index) == [-1, 0, 1, 2, 3, 4, 5]
    assert path.loc[-1, "rebased"] == 100.0
    assert path.loc[0, "rebased"] == pytest.approx(97.58, abs=0.01)  # 100 * (1 - 2.42 %)


def test_samsung_meta_compute_recovers_early_then_relapses_to_a_later_trough(prices, calendars) -> None:
    # 005930.KS.csv closes (no row on 2026-07-17, KRX closed; ^KS11 and 000660.KS have none either):
    # -1 07-01 314500 | 0 07-02 286000 | +1 07-03 309500 | +2 07-06 318000 (>= 314500: back)
    # +3 07-07 296000 (below again) | +4 277500 | +5 07-09 278000 | +6 285000 | +7 254500 | +8 263000
    # +9 279500 | +10 07-16 255000 | +11 07-20 244000 | +12 259000 | +13 260500 | +14 270000
    # +15 249500 | +16 254000 | +17 220000 | +18 208500 | +19 07-30 207000 | +20 07-31 262500
    al = alignment(("meta", "005930.KS", "XKRX", "2026-07-02", "shock"))
    res = recovery(prices, al, calendars, horizon=20)
    r = row(res, "005930.KS")
    assert (r["recovered"], r["recovery_sessions"], r["recovery_date"]) == (True, 2, T("2026-07-06"))
    assert r["relapsed"]  # 296000 on +3 < 314500
    # the trough comes after the recovery: 207000 on +19, -34.18 %
    assert (r["trough_rel_day"], r["trough_close"]) == (19, 207000.0)
    assert r["max_drawdown"] == pytest.approx(207000 / 314500 - 1, abs=1e-12)
    # from the trough: +20 262500 < 314500 and the horizon is +20 -> censored by the horizon
    assert not r["recovered_after_trough"] and pd.isna(r["recovery_from_trough_sessions"])
    assert r["trough_censored_by"] == "horizon"
    # ratio +5 is before the trough -> NaN; +20: (262500 - 207000) / (314500 - 207000) = 55500 / 107500
    assert math.isnan(r["ratio_5"])
    assert r["ratio_20"] == pytest.approx(55500 / 107500, abs=1e-12)  # 0.5163 -> half-life +20
    assert r["half_life_sessions"] == 20


def test_missing_session_is_carried_forward_and_counted(prices, calendars) -> None:
    # drop Samsung's 2025-02-04 row (day +2); the XKRX calendar keeps the session (other KRX
    # symbols traded), so the close is missing and carried forward from 02-03 (49765.1992)
    holed = dict(prices)
    holed["005930.KS"] = prices["005930.KS"].drop(index=T("2025-02-04"))
    res = recovery(holed, alignment(("ds", "005930.KS", "XKRX", "2025-01-31", "shock")), calendars, horizon=5)
    r = row(res, "005930.KS")
    assert r["n_missing"] == 1
    path = res.paths[res.paths["symbol"] == "005930.KS"].set_index("rel_day")
    assert bool(path.loc[2, "missing"]) and path.loc[2, "close"] == 49765.1992
    # recovery unchanged (+4), trough still the first 49765.1992 (+1); half-life moves to +3:
    # +2 carried -> ratio 0; +3 (51619.1992 - 49765.1992) / 2634.6328 = 0.7037
    assert (r["recovery_sessions"], r["trough_rel_day"], r["half_life_sessions"]) == (4, 1, 3)
    assert row(res, "005930.KS", "abnormal")["n_missing"] == 1


def test_relief_event_measures_the_give_back(prices, calendars) -> None:
    # NVDA 2025-04-09 +18.72 %, 2025-04-10 -5.91 % (PROVENANCE); horizon 1:
    # levels 1, 1.1872, 1.1872 * 0.9409 = 1.11704 -> peak on day 0, jump not given back
    al = alignment(("pause", "NVDA", "NASDAQ", "2025-04-09", "relief"))
    res = recovery(prices, al, calendars, horizon=1)
    r = row(res, "NVDA")
    assert r["direction"] == "give_back" and r["kind"] == "relief"
    assert r["reaction_return"] == pytest.approx(0.1872, abs=1e-4)
    assert r["trough_rel_day"] == 0 and r["max_drawdown"] == pytest.approx(0.1872, abs=1e-4)
    assert not r["recovered"] and r["censored_by"] == "horizon"
    # share of the jump given back by +1: (1.11704 - 1.1872) / (1 - 1.1872) = 0.3748
    assert r["ratio_1"] == pytest.approx(0.3748, abs=2e-3)


def test_event_after_the_end_of_the_data_is_explicitly_censored(prices, calendars) -> None:
    # 285A.T.csv ends 2026-09-04; 2026-09-14 is a later JPX session
    al = alignment(("late", "285A.T", "JPX", "2026-09-14", "shock"))
    with pytest.warns(DataWarning, match="prices end on 2026-09-04"):
        res = recovery(prices, al, calendars)
    r = row(res, "285A.T")
    assert not r["recovered"] and r["censored_by"] == "end_of_data"
    assert (r["last_date_seen"], r["last_rel_day"]) == (T("2026-09-04"), -1)
    assert pd.isna(r["duration_sessions"]) and math.isnan(r["max_drawdown"])
    assert not r["measurable"] and r["unmeasured_reason"] == "nothing after the event: prices end 2026-09-04"
    summary = res.survival.set_index("path")
    assert summary.loc["price", "n_unmeasured"] == 1 and summary.loc["price", "n"] == 0


def test_event_before_the_data_is_not_measurable(prices, calendars) -> None:
    # NVDA.csv starts 2024-01-02. Event 2023-06-01: day -1 2023-05-31, the whole window before the
    # data. Event 2024-01-02: day 0 is the first row but day -1 (2023-12-29) has no close.
    al = alignment(("early", "NVDA", "NASDAQ", "2023-06-01", "shock"),
                   ("first", "NVDA", "NASDAQ", "2024-01-02", "shock"))
    with pytest.warns(DataWarning, match="NVDA prices start on 2024-01-02") as caught:
        res = recovery(prices, al, calendars)
    assert len(caught) == 2
    t = res.table
    assert list(t["measurable"]) == [False] * 4  # price and abnormal rows of both events
    assert set(t["unmeasured_reason"]) == {"no pre-event close: prices start 2024-01-02"}
    # not censored after the event (that was the old, wrong label): no censoring reason, nothing seen
    assert t["censored_by"].isna().all() and t["last_date_seen"].isna().all()
    assert t["duration_sessions"].isna().all() and not t["recovered"].any()
    # no session inside the data is missing for 2023-06-01 (the old count was 62, the whole window);
    # for 2024-01-02 the 61 sessions 2024-01-02 .. have rows: 0 as well
    assert list(t["n_missing"]) == [0, 0, 0, 0]
    summary = res.survival.set_index("path")
    assert (summary.loc["price", "n"], summary.loc["price", "n_unmeasured"]) == (0, 2)
    assert math.isnan(summary.loc["price", "km_median_sessions"])
    assert res.paths.empty


def test_benchmark_starting_after_day_minus_1_leaves_only_the_abnormal_path_unmeasured(
    prices, calendars
) -> None:
    # SPY cut to start on 2025-01-27 (NVDA's day 0 after DeepSeek): the price path is measured
    # (NVDA day -1 2025-01-24 exists), the market-adjusted path has no benchmark close on day -1
    late_spy = dict(prices)
    late_spy["SPY"] = prices["SPY"][prices["SPY"].index >= T("2025-01-27")]
    res = recovery(late_spy, alignment(("ds", "NVDA", "NASDAQ", "2025-01-27", "shock")), calendars, horizon=5)
    assert row(res, "NVDA")["measurable"]
    a = row(res, "NVDA", "abnormal")
    assert not a["measurable"]
    assert a["unmeasured_reason"] == "no pre-event close of the benchmark: SPY prices start 2025-01-27"


def test_data_horizon_counts_sessions_after_the_reaction(prices, calendars) -> None:
    # 285A.T.csv rows after 2026-08-19 up to its last, 2026-09-04: 08-20 .. 09-04 = 12 sessions
    # (days +1..+12, test_window_cut_by_the_data_is_censored_at_end_of_data); an event after the
    # data adds 0; the most over the rows is 12
    al = alignment(
        ("cut", "285A.T", "JPX", "2026-08-19", "shock"), ("late", "285A.T", "JPX", "2026-09-14", "shock")
    )
    assert data_horizon(prices, al, calendars) == 12
    assert data_horizon(prices, al.iloc[[1]], calendars) == 0


def test_window_cut_by_the_data_is_censored_at_end_of_data(prices, calendars) -> None:
    # 285A.T from 2026-08-19 with horizon 60; 285A.T.csv: day -1 2026-08-18 close 57150, then
    # 13 rows 2026-08-19 .. 2026-09-04 (days 0..+12): highest close 54460 < 57150, lowest 47900
    # on 2026-08-28 (+7)
    res = recovery(prices, alignment(("cut", "285A.T", "JPX", "2026-08-19", "shock")), calendars)
    r = row(res, "285A.T")
    assert not r["recovered"] and r["censored_by"] == "end_of_data"
    assert (r["last_date_seen"], r["last_rel_day"], r["duration_sessions"]) == (T("2026-09-04"), 12, 12)
    assert (r["trough_rel_day"], r["trough_close"]) == (7, 47900.0)
    # ratios +20 and +60 were never observed: NaN, not a made-up number
    assert math.isnan(r["ratio_20"]) and math.isnan(r["ratio_60"])
    # the benchmark ^N225 ends 2026-08-21 (day +2): the abnormal path stops there
    a = row(res, "285A.T", "abnormal")
    assert (a["last_date_seen"], a["last_rel_day"]) == (T("2026-08-21"), 2)
    # _N225.csv closes 08-18 67460.73, 08-19 65326.42, 08-20 66216.79, 08-21 66016.36:
    # AR0 = (49950/57150 - 1) - (65326.42/67460.73 - 1) = -0.125984 + 0.031638 = -0.094346
    # AR1 = 0.060060 - 0.013630 = +0.046430, AR2 = 0.025873 + 0.003027 = +0.028900
    # CAR -0.0943, -0.0479, -0.0190: never back to 0 -> censored at the end of the data
    assert not a["recovered"] and a["censored_by"] == "end_of_data"
    assert a["max_drawdown"] == pytest.approx(-0.094346, abs=1e-5)
    assert a["ratio_1"] == pytest.approx((-0.047916 + 0.094346) / 0.094346, abs=1e-4)


def test_abnormal_path_from_an_event_study_result(prices, calendars) -> None:
    # hand-made study ARs for NVDA around 2025-01-27 (event window ends at +3 for "ds", +2 for "ds2")
    ars = pd.DataFrame({
        "event_id": ["ds"] * 5 + ["ds2"] * 3,
        "symbol": "NVDA", "benchmark": "SPY",
        "rel_day": [-1, 0, 1, 2, 3, 0, 1, 2],
        "ar": [0.01, -0.125, 0.0625, 0.03, 0.04, -0.10, 0.02, 0.02],
        "missing": False,
    })
    al = alignment(
        ("ds", "NVDA", "NASDAQ", "2025-01-27", "shock"), ("ds2", "NVDA", "NASDAQ", "2025-01-27", "shock")
    )
    res = recovery(prices, al, calendars, horizon=5, study=SimpleNamespace(abnormal_returns=ars))
    a = row(res, "NVDA", "abnormal", "ds")
    # CAR(0,k): -0.125, -0.0625, -0.0325, +0.0075 -> recovered on +3 (2025-01-30), drawdown -0.125
    assert a["ar_source"] == "study" and a["benchmark"] == "SPY"
    assert (a["recovered"], a["recovery_sessions"], a["recovery_date"]) == (True, 3, T("2025-01-30"))
    assert a["max_drawdown"] == pytest.approx(-0.125, abs=1e-12)
    # ratio +1 = (-0.0625 - -0.125) / (0 - -0.125) = 0.5 (exact in binary) -> half-life +1
    assert a["ratio_1"] == pytest.approx(0.5, abs=1e-12) and a["half_life_sessions"] == 1
    b = row(res, "NVDA", "abnormal", "ds2")
    # CAR -0.10, -0.08, -0.06 and the study stops at +2 < horizon 5
    assert not b["recovered"] and b["censored_by"] == "study_window"
    assert (b["last_rel_day"], b["last_date_seen"]) == (2, T("2025-01-29"))


def test_study_missing_ars_inside_are_gaps_trailing_are_end_of_data(prices, calendars) -> None:
    # ARs days 0..4: -0.125, 0.0625, missing, 0.03, missing (e.g. the benchmark's data ended)
    ars = pd.DataFrame({
        "event_id": "ds", "symbol": "NVDA", "benchmark": "SPY", "rel_day": [0, 1, 2, 3, 4],
        "ar": [-0.125, 0.0625, math.nan, 0.03, math.nan], "missing": [False, False, True, False, True],
    })
    al = alignment(("ds", "NVDA", "NASDAQ", "2025-01-27", "shock"))
    res = recovery(prices, al, calendars, horizon=10, study=SimpleNamespace(abnormal_returns=ars))
    a = row(res, "NVDA", "abnormal")
    # CAR -0.125, -0.0625, (carried) -0.0625, -0.0325; day +4 is the end of the data, not a gap
    assert (a["n_missing"], a["last_rel_day"], a["censored_by"]) == (1, 3, "end_of_data")
    assert not a["recovered"]
    cum = res.paths.set_index("rel_day")["cum_ar"]
    assert cum.loc[2] == pytest.approx(-0.0625, abs=1e-12) and cum.loc[3] == pytest.approx(-0.0325, abs=1e-12)
    assert math.isnan(cum.loc[4])


def test_bad_inputs_are_clear_errors(prices, calendars) -> None:
    al = alignment(("ds", "NVDA", "NASDAQ", "2025-01-27", "shock"))
    with pytest.raises(ParameterError, match="horizon 0"):
        recovery(prices, al, calendars, horizon=0)
    with pytest.raises(ParameterError, match="kind"):
        recovery(prices, al.drop(columns="kind"), calendars)
    with pytest.raises(ParameterError, match="boom"):
        recovery(prices, al.assign(kind="boom"), calendars)
    with pytest.raises(ParameterError, match="ratio_days"):
        recovery(prices, al, calendars, ratio_days=(1, -5))
    with pytest.raises(DataError, match="AMD"):
        recovery(prices, al.assign(symbol="AMD"), calendars)
    with pytest.raises(CalendarError, match="2025-01-25 is not a session of NASDAQ"):
        recovery(prices, al.assign(reaction_session=T("2025-01-25")), calendars)


def test_missing_benchmark_skips_the_abnormal_path_with_a_warning(prices, calendars) -> None:
    no_spy = {k: v for k, v in prices.items() if k != "SPY"}
    with pytest.warns(DataWarning, match="benchmark SPY"):
        al = alignment(("ds", "NVDA", "NASDAQ", "2025-01-27", "shock"))
        res = recovery(no_spy, al, calendars, horizon=5)
    assert list(res.table["path"]) == ["price"]


# ---------------------------------------------------------------- Kaplan-Meier summary

# Six paths: recovered at 0, 2, 7; censored at 5, 10, 60. Kaplan-Meier by hand:
#   t=0: 6 at risk, 1 recovery -> S = 5/6;  t=2: 5 at risk -> S = 5/6 * 4/5 = 2/3
#   (censored at 5 leaves);  t=7: 3 at risk (7, 10, 60) -> S = 2/3 * 2/3 = 4/9
# share by 5 = 1/3, by 20 = 5/9, by 60 = 5/9 (naive 3/6 = 0.5 would ignore censoring)
DURATIONS = [0, 2, 5, 7, 10, 60]
RECOVERED = [True, True, False, True, False, False]


def test_km_shares_by_hand() -> None:
    out = km_share_recovered(DURATIONS, RECOVERED, days=(5, 20, 60, 100))
    assert out.loc[5, "share"] == pytest.approx(1 / 3, abs=1e-12)
    assert out.loc[20, "share"] == pytest.approx(5 / 9, abs=1e-12)
    assert out.loc[60, "share"] == pytest.approx(5 / 9, abs=1e-12)
    # Greenwood at t=5: S * sqrt(1/(6*5) + 1/(5*4)) = 2/3 * sqrt(1/12) = 0.19245
    assert out.loc[5, "se"] == pytest.approx(2 / 3 * math.sqrt(1 / 30 + 1 / 20), abs=1e-9)
    # nobody followed to day 100 and S > 0: undefined, not extrapolated
    assert math.isnan(out.loc[100, "share"])
    # Kaplan-Meier median: S first below 0.5 at t=7 (4/9)
    assert km_median(DURATIONS, RECOVERED) == 7.0


def test_km_all_recovered_and_all_censored() -> None:
    done = km_share_recovered([1, 2], [True, True], days=(1, 5, 60))
    # S(1) = 1/2, S(2) = 0 and stays 0: defined beyond the last time
    assert list(done["share"]) == [0.5, 1.0, 1.0] and done.loc[60, "se"] == 0.0
    none = km_share_recovered([3, 60], [False, False], days=(5, 60, 61))
    assert none.loc[5, "share"] == 0.0 and none.loc[60, "share"] == 0.0 and math.isnan(none.loc[61, "share"])
    assert math.isnan(km_median([3, 60], [False, False]))


def test_product_limit_matches_statsmodels_survfunc_right() -> None:
    from statsmodels.duration.survfunc import SurvfuncRight

    from backtest.recovery.survival import km_curve, product_limit

    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(1, 40))
        durations = rng.integers(0, 15, n).astype(float)  # few distinct days: many ties
        recovered = rng.random(n) < (0.3 if trial % 2 else 0.9)  # some curves fall to 0
        if not recovered.any():
            continue
        times, survival, se, at_risk = product_limit(durations, recovered)
        reference = SurvfuncRight(durations, recovered.astype(float))
        np.testing.assert_array_equal(times, reference.surv_times)
        np.testing.assert_array_equal(at_risk, reference.n_risk)
        np.testing.assert_allclose(survival, reference.surv_prob, rtol=1e-12, atol=1e-15)
        # statsmodels leaves Greenwood's se NaN where S is 0 (0 x inf); it is 0 there
        np.testing.assert_allclose(se, np.where(reference.surv_prob == 0, 0.0, reference.surv_prob_se),
                                   rtol=1e-12, atol=1e-15)
        if not np.isclose(reference.surv_prob, 0.5, rtol=0, atol=1e-9).any():  # ties: the test below
            assert np.array_equal(km_median(durations, recovered), reference.quantile(0.5), equal_nan=True)
        curve = km_curve(durations, recovered)
        assert curve["share"].iloc[-1] == pytest.approx(1 - reference.surv_prob[-1], abs=1e-12)


def test_km_median_of_a_curve_that_halves_exactly_is_the_next_day() -> None:
    # ten paths recovered on days 1..10: S(5) = 5/10 exactly, S(6) = 4/10; the first t with
    # S(t) < 0.5 (SAS's convention, and statsmodels') is day 6, whatever the rounding of S(5)
    for n in (2, 4, 10, 36, 64, 90):
        assert km_median(list(range(1, n + 1)), [True] * n) == n / 2 + 1


def test_summarize_groups_and_counts() -> None:
    # the six KM paths, plus two drawdown paths that never moved (trivially "recovered" on day 0)
    # and one not measurable; one give-back path
    table = pd.DataFrame({
        "path": ["price"] * 10,
        "direction": ["drawdown"] * 9 + ["give_back"],
        "recovered": [*RECOVERED, True, True, False, True],
        "recovered_after_trough": [*RECOVERED, True, True, False, True],
        "duration_sessions": pd.array([*DURATIONS, 0, 0, None, 4], dtype="Int64"),
        "recovery_sessions": pd.array([0, 2, None, 7, None, None, 0, 0, None, 4], dtype="Int64"),
        "max_drawdown": [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, 0.0, 0.0, math.nan, 0.2],
        "moved": pd.array([True] * 6 + [False, False, None, True], dtype="boolean"),
    })
    out = summarize(table).set_index("direction")
    d = out.loc["drawdown"]
    # the no-move paths are counted apart and left out: the KM figures are those of the six
    # (with them: t=0 3 of 8 recover, S = 5/8; t=2 S = 5/8 * 4/5 = 1/2 -> 50 % by day 5, not 1/3)
    assert (d["n"], d["n_recovered"], d["n_censored"], d["n_no_move"], d["n_unmeasured"]) == (6, 3, 3, 2, 1)
    assert d["share_recovered_5"] == pytest.approx(1 / 3, abs=1e-12)
    assert d["km_median_sessions"] == 7.0
    assert d["median_recovery_sessions"] == 2.0  # median of 0, 2, 7
    assert d["share_recovered_20"] == pytest.approx(5 / 9, abs=1e-12)
    assert d["median_max_drawdown"] == pytest.approx(-0.35, abs=1e-12)
    g = out.loc["give_back"]
    assert (g["n"], g["share_recovered_5"]) == (1, 1.0)
    with pytest.raises(ParameterError, match="duration_sessions"):
        summarize(table.drop(columns="duration_sessions"))
    with pytest.raises(ParameterError, match="moved"):
        summarize(table.drop(columns="moved"))


def test_summarize_a_group_with_only_no_move_paths_has_an_empty_sample() -> None:
    table = pd.DataFrame({
        "path": ["abnormal"] * 2, "direction": ["give_back"] * 2, "recovered": [True, True],
        "recovered_after_trough": [True, True],
        "duration_sessions": pd.array([0, 0], dtype="Int64"),
        "recovery_sessions": pd.array([0, 0], dtype="Int64"), "max_drawdown": [0.0, 0.0],
        "moved": pd.array([False, False], dtype="boolean"),
    })
    g = summarize(table).iloc[0]
    # nothing moved: n = 0, no median, no share (not "100 % recovered on day 0")
    assert (g["n"], g["n_no_move"], g["n_recovered"]) == (0, 2, 0)
    assert math.isnan(g["km_median_sessions"]) and math.isnan(g["share_recovered_5"])
    assert math.isnan(g["median_max_drawdown"])
