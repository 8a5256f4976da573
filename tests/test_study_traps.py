"""The known traps of event studies, one test each, on hand-built data with a known answer.

Prices are constructed so that the right answer holds by construction (an exact OLS
fit, a known drift, a known benchmark shock, a known crash day, two calendars whose
close instants differ from their dates); the expected numbers come from that
construction or from numpy's least squares, never from the engine. Each test fails
on the code before issue 11 (noted per test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest import calendars as calendars_module
from backtest.calendars import ExchangeCalendars
from backtest.errors import DataGapWarning, DataWarning, ParameterError, ShortHistoryWarning
from backtest.study import event_study
from backtest.study.synchrony import aligned_levels

START, END = "2023-01-03", "2025-12-31"


@pytest.fixture(autouse=True)
def no_packaged(tmp_path, monkeypatch):
    empty = tmp_path / "empty_closures.csv"
    empty.write_text("calendar,date,action,note\n", encoding="utf-8")
    monkeypatch.setattr(calendars_module, "packaged_closures_path", lambda: empty)


@pytest.fixture(scope="module")
def sessions() -> pd.DatetimeIndex:
    # NASDAQ and NYSE share their sessions over this span (checked below).
    cals = ExchangeCalendars()
    nasdaq = cals.sessions("NASDAQ", START, END)
    assert nasdaq.equals(cals.sessions("NYSE", START, END))
    return nasdaq


def _bars(returns: np.ndarray, dates: pd.DatetimeIndex) -> pd.DataFrame:
    close = 100.0 * np.cumprod(1.0 + np.concatenate([[0.0], returns[1:]]))
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "volume": 1.0}, index=pd.DatetimeIndex(dates, name="date"))


def _rows(sessions, *events: tuple[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"event_id": [e for e, _ in events], "symbol": "NVDA", "calendar": "NASDAQ",
                         "reaction_session": [sessions[p] for _, p in events], "kind": "shock"})


def _market(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, n)


def _orthogonal_noise(market: np.ndarray, scale: float, seed: int) -> np.ndarray:
    # noise with zero mean and zero covariance with the market: OLS of a + b m + e returns a, b exactly
    e = np.random.default_rng(seed).normal(0.0, scale, len(market))
    x = np.column_stack([np.ones_like(market), market])
    return e - x @ np.linalg.lstsq(x, e, rcond=None)[0]


# ------------------------------------------------------------------ 1. a gap is missing data


def test_gap_in_the_estimation_window_is_counted_and_day0_stays(sessions):
    # Old code: the 30 sessions became NASDAQ closures, every relative day moved by 30 and
    # the estimation window silently reached 30 sessions further back.
    m = _market(len(sessions))
    day0 = 400
    gap = np.arange(day0 - 100, day0 - 70)  # 30 sessions inside [-250, -11]
    keep = np.setdiff1d(np.arange(len(sessions)), gap)
    prices = {"NVDA": _bars(1.2 * m, sessions)[lambda f: f.index.isin(sessions[keep])],
              "SPY": _bars(m, sessions)}
    with pytest.warns(DataGapWarning, match=r"NVDA: .* \(30 NASDAQ sessions\)"):
        cals = ExchangeCalendars.from_prices(prices)
    assert len(cals.closures("NASDAQ")) == 0
    with pytest.warns(ShortHistoryWarning, match=r"209 of 240"):
        res = event_study(prices, _rows(sessions, ("e", day0)), cals, car_windows=[(0, 0)])
    fit = res.fits.iloc[0]
    assert fit["warning"].endswith("(30 sessions in a data gap)")
    # 30 sessions without a close: their 30 returns and the one after the gap are missing
    assert fit["n_gap_estimation"] == 30
    assert fit["n_estimation"] == 240 - 31
    assert res.abnormal_returns.loc[res.abnormal_returns.rel_day == 0, "date"].iloc[0] == sessions[day0]
    assert res.car["n_gap"].iloc[0] == 0


# ------------------------------------------------------------------ 2. drift made visible


def test_drift_share_of_a_car_is_the_extrapolated_intercept(sessions):
    # Estimation window: R = 0.01 + 1.5 m + e (e orthogonal: OLS gives alpha 0.01 exactly).
    # Event window: R = 1.5 m, no drift at all. The market-model CAR[0,+20] is then -0.21,
    # all of it the intercept: drift -0.21, drift-free CAR 0. Old code: no drift column.
    m = _market(len(sessions), seed=2)
    day0, est = 400, slice(400 - 250, 400 - 10)
    r = 1.5 * m
    r[est] = 0.01 + 1.5 * m[est] + _orthogonal_noise(m[est], 0.005, seed=3)
    prices = {"NVDA": _bars(r, sessions), "SPY": _bars(m, sessions)}
    res = event_study(prices, _rows(sessions, ("e", day0)), ExchangeCalendars.from_prices(prices),
                      car_windows=[(0, 20)])
    assert res.fits["alpha"].iloc[0] == pytest.approx(0.01, abs=1e-12)
    row = res.car.iloc[0]
    assert row["car"] == pytest.approx(-0.21, abs=1e-10)
    assert row["drift"] == pytest.approx(-0.21, abs=1e-10)
    assert row["car_drift_free"] == pytest.approx(0.0, abs=1e-10)
    assert row["drift_share"] == pytest.approx(1.0, abs=1e-9)
    assert bool(row["drift_dominates"])
    # BHAR analogue by hand: prod(1 + NR - alpha) - prod(1 + NR), NR = 0.01 + 1.5 m
    nr = 0.01 + 1.5 * m[day0 : day0 + 21]
    assert row["bhar_drift"] == pytest.approx(np.prod(1 + nr - 0.01) - np.prod(1 + nr), abs=1e-12)
    # recovery's abnormal path: the fitted one falls 1 % a day (the intercept alone), the
    # drift-free one (R - beta m = 0 by construction) stays flat
    from backtest.recovery import recovery

    cals = ExchangeCalendars.from_prices(prices)
    rows = _rows(sessions, ("e", day0))
    path = event_study(prices, rows, cals, event_window=(-1, 20), car_windows=[(0, 0)])
    fitted = recovery(prices, rows, cals, horizon=20, study=path).table.set_index("path")
    free = recovery(prices, rows, cals, horizon=20, study=path, drift_free=True).table.set_index("path")
    assert fitted.loc["abnormal", "max_drawdown"] == pytest.approx(-0.21, abs=1e-10)
    assert free.loc["abnormal", "max_drawdown"] == pytest.approx(0.0, abs=1e-10)
    assert (fitted.loc["abnormal", "ar_model"], free.loc["abnormal", "ar_model"]) == (
        "market", "market, drift-free")
    # market-adjusted has no intercept: no drift
    adj = event_study(prices, _rows(sessions, ("e", day0)), ExchangeCalendars.from_prices(prices),
                      model="market_adjusted", car_windows=[(0, 20)])
    assert adj.car["drift"].iloc[0] == 0.0 and not adj.car["drift_dominates"].iloc[0]


# ------------------------------------------------------------------ 3. the benchmark moved


def test_benchmark_moved_by_the_event_is_flagged_with_its_z(sessions):
    # The benchmark falls 8 % on day 0; its estimation sd is ~1 %. Old code: no flag.
    m = _market(len(sessions), seed=4)
    day0 = 400
    m[day0] = -0.08
    prices = {"NVDA": _bars(1.2 * m + _market(len(sessions), 5) / 2, sessions), "SPY": _bars(m, sessions)}
    res = event_study(prices, _rows(sessions, ("e", day0)), ExchangeCalendars.from_prices(prices),
                      car_windows=[(0, 0), (1, 5)])
    history = m[day0 - 250 : day0 - 10]
    z = (-0.08 - history.mean()) / history.std(ddof=1)
    fit = res.fits.iloc[0]
    assert fit["benchmark_day0_return"] == pytest.approx(-0.08, abs=1e-12)
    assert fit["benchmark_day0_z"] == pytest.approx(z, rel=1e-9)
    car = res.car.set_index("window")
    assert bool(car.loc["[0,0]", "benchmark_moved"]) and car.loc["[0,0]", "benchmark_z"] == pytest.approx(z)
    window = m[day0 + 1 : day0 + 6]
    z5 = (window.sum() - 5 * history.mean()) / (history.std(ddof=1) * np.sqrt(5))
    assert car.loc["[+1,+5]", "benchmark_z"] == pytest.approx(z5, rel=1e-9)
    assert not car.loc["[+1,+5]", "benchmark_moved"]


# ------------------------------------------------------------------ 5. clean estimation windows


def test_other_events_days_are_left_out_of_the_estimation_sample(sessions):
    # A -17 % day (event "crash", day 0 at 300) sits in the estimation window of event
    # "later" (day 0 at 400). By default the sessions 295..305 are left out of its fit;
    # sigma and beta then equal OLS on the other 229 days. Old code: always all 240.
    m = _market(len(sessions), seed=6)
    r = 1.3 * m + _market(len(sessions), seed=7) / 2
    r[300] = -0.17
    prices = {"NVDA": _bars(r, sessions), "SPY": _bars(m, sessions)}
    cals = ExchangeCalendars.from_prices(prices)
    rows = _rows(sessions, ("crash", 300), ("later", 400))
    days = np.arange(400 - 250, 400 - 10)

    def ols(sample):
        x = np.column_stack([np.ones(len(sample)), m[sample]])
        coef, *_ = np.linalg.lstsq(x, r[sample], rcond=None)
        resid = r[sample] - x @ coef
        return coef[1], resid @ resid / (len(sample) - 2)

    clean = event_study(prices, rows, cals, car_windows=[(0, 0)]).fits.set_index("event_id")
    beta, sigma2 = ols(days[(days < 295) | (days > 305)])
    assert clean.loc["later", "n_excluded"] == 11 and clean.loc["later", "excluded_events"] == "crash"
    assert clean.loc["later", "n_estimation"] == 229
    assert clean.loc["later", "beta"] == pytest.approx(beta, rel=1e-9)
    assert clean.loc["later", "sigma2"] == pytest.approx(sigma2, rel=1e-9)
    assert clean.loc["later", "warning"] == ""  # left out on purpose: not a short history
    kept = event_study(prices, rows, cals, car_windows=[(0, 0)], exclude_events=None)
    kept = kept.fits.set_index("event_id")
    beta_all, sigma2_all = ols(days)
    assert kept.loc["later", "n_excluded"] == 0 and kept.loc["later", "n_estimation"] == 240
    assert kept.loc["later", "beta"] == pytest.approx(beta_all, rel=1e-9)
    assert kept.loc["later", "sigma2"] == pytest.approx(sigma2_all, rel=1e-9)
    assert sigma2_all > 1.5 * sigma2  # the crash day alone inflates sigma^2 by half


# ------------------------------------------------------------------ 6. overlapping windows


def test_overlapping_windows_are_flagged_and_pooled_tests_say_so(sessions):
    # Day 0 four sessions apart (as Liberation Day and the tariff pause): CAR[0,+5] windows
    # share sessions, CAR[0,0] ones do not. Old code: no flag, tests silent.
    m = _market(len(sessions), seed=8)
    prices = {"NVDA": _bars(1.1 * m + _market(len(sessions), 9) / 2, sessions), "SPY": _bars(m, sessions)}
    res = event_study(prices, _rows(sessions, ("lib", 400), ("pause", 404), ("far", 600)),
                      ExchangeCalendars.from_prices(prices), car_windows=[(0, 0), (0, 5)])
    flags = res.car.set_index(["event_id", "window"])["overlap_events"]
    assert flags[("lib", "[0,+5]")] == "pause" and flags[("pause", "[0,+5]")] == "lib"
    assert flags[("lib", "[0,0]")] == "" and flags[("far", "[0,+5]")] == ""
    pooled = res.tests[(res.tests.scope == "all") & (res.tests.test == "cross_sectional_t")]
    notes = pooled.set_index("window")["note"]
    assert "2 CARs share sessions" in notes["[0,+5]"] and "not independent" in notes["[0,+5]"]
    assert "share sessions" not in notes["[0,0]"]


# ------------------------------------------------------------------ 4. time-aligned factors


def _schedule(dates, open_utc: str, close_utc: str) -> pd.DataFrame:
    index = pd.DatetimeIndex(dates)
    return pd.DataFrame({"market_open": (index + pd.Timedelta(f"{open_utc}:00")).tz_localize("UTC"),
                         "market_close": (index + pd.Timedelta(f"{close_utc}:00")).tz_localize("UTC")},
                        index=index)


def test_time_alignment_takes_the_last_close_before_the_session_not_the_same_date():
    # Hand-built calendars: "Seoul" 00:00-06:30 UTC, "New York" 13:30-20:00 UTC. New York is
    # closed on Wed 03-12 (a holiday there only). Rule: each Seoul session takes the last NY
    # close strictly before its own close; the naive join takes the same date.
    ny = _schedule(["2025-03-10", "2025-03-11", "2025-03-13", "2025-03-14"], "13:30", "20:00")
    seoul = _schedule(["2025-03-11", "2025-03-12", "2025-03-13", "2025-03-14"], "00:00", "06:30")
    closes = pd.Series([100.0, 110.0, 99.0, 120.0], index=ny.index)
    # Seoul 03-11 sees NY 03-10 (100), 03-12 sees NY 03-11 (110), 03-13 still NY 03-11 (NY
    # closed 03-12), 03-14 sees NY 03-13 (99).
    assert aligned_levels(closes, ny, seoul).tolist() == [100.0, 110.0, 110.0, 99.0]
    naive = aligned_levels(closes, ny, seoul, "date")
    assert naive.iloc[[0, 2, 3]].tolist() == [110.0, 99.0, 120.0] and np.isnan(naive.iloc[1])
    # intraday variant, a session opening 14:00 UTC (inside NY hours): NY's close that day is not yet in
    late = _schedule(["2025-03-13"], "14:00", "22:00")
    assert aligned_levels(closes, ny, late, "open").tolist() == [110.0]
    assert aligned_levels(closes, ny, late, "close").tolist() == [99.0]
    # two exchanges closing together (NYSE and NASDAQ) pair their same-date sessions
    assert aligned_levels(closes, ny, ny).tolist() == closes.tolist()


def test_foreign_factor_enters_the_study_time_aligned(sessions):
    # SK Hynix (XKRX) against SOXX (NASDAQ) as its benchmark: with the stock built as
    # 0.9 x SOXX's move over the previous New York session, the time-aligned market model
    # fits beta 0.9 with no residual; joined by date it does not.
    cals = ExchangeCalendars()
    krx = cals.sessions("XKRX", START, END)
    soxx_r = _market(len(sessions), seed=10) * 2
    soxx = _bars(soxx_r, sessions)
    target = cals.schedule("XKRX", START, END)
    level = aligned_levels(soxx["close"], cals.schedule("NASDAQ", START, END), target)
    stock_r = 0.9 * level.pct_change().to_numpy()
    stock_r[0] = 0.0
    stock = _bars(np.nan_to_num(stock_r), krx)
    prices = {"000660.KS": stock, "SOXX": soxx}
    cals = ExchangeCalendars.from_prices(prices)
    rows = pd.DataFrame({"event_id": ["e"], "symbol": ["000660.KS"], "calendar": ["XKRX"],
                         "reaction_session": [krx[400]], "kind": ["shock"]})
    aligned = event_study(prices, rows, cals, benchmarks={"000660.KS": "SOXX"}, car_windows=[(0, 0)])
    assert aligned.fits["beta"].iloc[0] == pytest.approx(0.9, abs=1e-9)
    assert aligned.fits["sigma2"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.warns(DataWarning, match="missing returns"), \
            pytest.warns(ShortHistoryWarning, match="224 of 240"):  # a date join misses US holidays
        naive = event_study(prices, rows, cals, benchmarks={"000660.KS": "SOXX"}, car_windows=[(0, 0)],
                            factor_alignment="date")
    assert abs(naive.fits["beta"].iloc[0]) < 0.5


def test_dimson_beta_sums_lag_current_and_lead_slopes(sessions):
    # R_t = 0.4 m_{t-1} + 0.8 m_t + 0.2 m_{t+1} + e: the Dimson beta is 1.4 (OLS on the three
    # market columns, checked against numpy's least squares).
    m = _market(len(sessions), seed=11)
    e = _market(len(sessions), seed=12) / 3
    r = 0.8 * m + e
    r[1:] += 0.4 * m[:-1]
    r[:-1] += 0.2 * m[1:]
    prices = {"NVDA": _bars(r, sessions), "SPY": _bars(m, sessions)}
    res = event_study(prices, _rows(sessions, ("e", 400)), ExchangeCalendars.from_prices(prices),
                      car_windows=[(0, 0)], dimson=1)
    days = np.arange(150, 390)
    x = np.column_stack([np.ones(len(days)), m[days], m[days - 1], m[days + 1]])
    coef, *_ = np.linalg.lstsq(x, r[days], rcond=None)
    fit = res.fits.iloc[0]
    assert fit["beta_market_lag1"] == pytest.approx(coef[2], rel=1e-9)
    assert fit["beta_dimson"] == pytest.approx(coef[1:].sum(), rel=1e-9)
    assert fit["beta_dimson"] == pytest.approx(1.4, abs=0.1)
    with pytest.raises(ParameterError, match="dimson"):
        event_study(prices, _rows(sessions, ("e", 400)), ExchangeCalendars.from_prices(prices),
                    model="constant_mean", dimson=1)
