"""Prices-level event study on the embedded snapshot.

Outside references: the raw snapshot CSV files read with pandas and a market model
fitted with statsmodels (independent of the engine's returns, windows and OLS), and
the event-day moves in backtest/data/prices/PROVENANCE.md.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from backtest.alignment import align_symbols
from backtest.calendars import ExchangeCalendars
from backtest.errors import DataWarning, ParameterError, ShortHistoryWarning, StudyError
from backtest.events import load_events
from backtest.sources import load_prices
from backtest.study import event_study

SYMBOLS = ["NVDA", "000660.KS", "005930.KS", "285A.T"]
PRICES = [*SYMBOLS, "SPY", "^KS11", "^N225", "SOXX"]


@pytest.fixture(scope="module")
def prices() -> dict[str, pd.DataFrame]:
    return load_prices(PRICES)


@pytest.fixture(scope="module")
def calendars(prices) -> ExchangeCalendars:
    return ExchangeCalendars.from_prices(prices)


@pytest.fixture(scope="module")
def deepseek(calendars) -> pd.DataFrame:
    events = load_events()
    return align_symbols(events[events.event_id == "deepseek_r1"], calendars, SYMBOLS)


@pytest.fixture(scope="module")
def result(prices, calendars, deepseek):
    with pytest.warns(ShortHistoryWarning, match=r"285A\.T"):
        return event_study(prices, deepseek, calendars)


def raw_close(name: str) -> pd.Series:
    path = resources.files("backtest") / "data" / "prices" / name
    frame = pd.read_csv(str(path), parse_dates=["date"], index_col="date")
    return frame["close"]


def test_nvda_deepseek_matches_independent_ols(result):
    # independent path: raw CSV closes, pct_change on the common rows of NVDA and SPY (the
    # NASDAQ/NYSE sessions: both files hold the same 686 days), statsmodels OLS on rows
    # -250..-11 before 2025-01-27, prediction variance from (X'X)^-1.
    r = pd.concat([raw_close("NVDA.csv"), raw_close("SPY.csv")], axis=1, keys=["r", "m"]).pct_change()
    day0 = r.index.get_loc(pd.Timestamp("2025-01-27"))
    est = r.iloc[day0 - 250 : day0 - 10]
    ols = sm.OLS(est["r"], sm.add_constant(est["m"])).fit()
    evt = r.iloc[day0 : day0 + 6]
    xs = sm.add_constant(evt["m"]).to_numpy()
    ar = evt["r"].to_numpy() - xs @ ols.params.to_numpy()
    v = ols.scale * (np.eye(6) + xs @ ols.normalized_cov_params.to_numpy() @ xs.T)

    car = result.car.set_index(["symbol", "window"])
    day0_row = car.loc[("NVDA", "[0,0]")]
    assert day0_row["car"] == pytest.approx(ar[0], rel=1e-9)
    assert day0_row["t_stat"] == pytest.approx(ar[0] / np.sqrt(v[0, 0]), rel=1e-9)
    row5 = car.loc[("NVDA", "[0,+5]")]
    assert row5["car"] == pytest.approx(ar.sum(), rel=1e-9)
    assert row5["t_stat"] == pytest.approx(ar.sum() / np.sqrt(v.sum()), rel=1e-9)
    assert row5["n_estimation"] == 240 and row5["model_used"] == "market"
    assert row5["df"] == 238
    # PROVENANCE.md: NVDA 2025-01-27 close-to-close -16.97 %
    ars = result.abnormal_returns
    nvda0 = ars[(ars.symbol == "NVDA") & (ars.rel_day == 0)].iloc[0]
    assert nvda0["return"] == pytest.approx(-0.1697, abs=5e-5)
    assert nvda0["date"] == pd.Timestamp("2025-01-27")


def test_sk_hynix_day0_is_first_session_after_lunar_new_year(result):
    # KRX closed 2025-01-27..30; PROVENANCE.md: 000660.KS -9.86 %, KOSPI -0.77 % on 2025-01-31
    ars = result.abnormal_returns
    row = ars[(ars.symbol == "000660.KS") & (ars.rel_day == 0)].iloc[0]
    assert row["date"] == pd.Timestamp("2025-01-31")
    assert row["return"] == pytest.approx(-0.0986, abs=5e-5)
    assert row["benchmark_return"] == pytest.approx(-0.0077, abs=5e-5)
    before = ars[(ars.symbol == "000660.KS") & (ars.rel_day == -1)].iloc[0]
    assert before["date"] == pd.Timestamp("2025-01-24")


def test_kioxia_short_history_falls_back_to_market_adjusted(result):
    # Kioxia listed 2024-12-18. JPX sessions before 2025-01-27: Dec 18-20, 23-27, 30 (9) and
    # Jan 6-10, 14-17, 20-24 (14) -> day -23 = Dec 18, day -11 = Jan 9. The estimation window
    # -250..-11 therefore holds 13 closes = 12 returns < 60 -> market-adjusted.
    fit = result.fits.set_index("symbol").loc["285A.T"]
    assert fit["model_used"] == "market_adjusted" and fit["model_requested"] == "market"
    assert fit["n_estimation"] == 12
    assert "285A.T" in fit["warning"] and "market-adjusted" in fit["warning"]
    row = result.car.set_index(["symbol", "window"]).loc[("285A.T", "[0,0]")]
    # PROVENANCE.md: 285A.T -5.40 %, ^N225 -0.92 % on 2025-01-27 -> AR = R - R_m = -4.48 %
    assert row["car"] == pytest.approx(-0.0448, abs=1e-4)
    assert row["model_used"] == "market_adjusted" and row["n_estimation"] == 12
    assert "285A.T" in str(result.summary())


def test_short_history_above_minimum_uses_what_exists(prices, calendars, deepseek):
    kioxia = deepseek[deepseek.symbol == "285A.T"]
    with pytest.warns(ShortHistoryWarning, match="fitted on what exists"):
        res = event_study(prices, kioxia, calendars, min_estimation=10)
    fit = res.fits.iloc[0]
    assert fit["model_used"] == "market" and fit["n_estimation"] == 12 and fit["df"] == 10


def test_tests_table_has_each_scope_and_null(prices, calendars):
    events = load_events()
    two = align_symbols(events[events.event_id.isin(["deepseek_r1", "us_tariffs_liberation_day"])],
                        calendars, ["NVDA", "000660.KS", "005930.KS"])
    res = event_study(prices, two, calendars, car_windows=[(0, 0)])
    assert set(res.tests["scope"]) == {"deepseek_r1", "us_tariffs_liberation_day", "all"}
    cs = res.tests[(res.tests.test == "cross_sectional_t")].set_index("scope")
    assert cs.loc["all", "n"] == 6 and cs.loc["all", "null"] == "t(5)"
    assert cs.loc["deepseek_r1", "n"] == 3
    assert set(res.tests.loc[res.tests.test == "patell_z", "null"]) == {"N(0,1)"}
    # AAR on day 0 of the pooled scope = mean of the six day-0 ARs
    day0 = res.abnormal_returns[res.abnormal_returns.rel_day == 0]["ar"].mean()
    aar = res.aar[(res.aar.scope == "all") & (res.aar.rel_day == 0)]["aar"].iloc[0]
    assert aar == pytest.approx(day0, rel=1e-12)


def test_shocks_and_reliefs_are_pooled_apart(prices, calendars):
    # DeepSeek is a shock, the tariff pause a relief: pooling their CARs would let signs cancel,
    # so the pooled scopes are "all shock" (= the DeepSeek pairs) and "all relief" (= the pause's)
    events = load_events()
    two = align_symbols(events[events.event_id.isin(["deepseek_r1", "us_tariff_pause"])], calendars,
                        ["NVDA", "000660.KS", "005930.KS"])
    res = event_study(prices, two, calendars, car_windows=[(0, 0)])
    assert set(res.tests["scope"]) == {"deepseek_r1", "us_tariff_pause", "all shock", "all relief"}
    t = res.tests[res.tests.test == "cross_sectional_t"].set_index("scope")
    for pooled, event in (("all shock", "deepseek_r1"), ("all relief", "us_tariff_pause")):
        assert t.loc[pooled, "n"] == 3
        assert t.loc[pooled, "statistic"] == pytest.approx(t.loc[event, "statistic"], rel=1e-12)
        assert t.loc[pooled, "caar"] == pytest.approx(t.loc[event, "caar"], rel=1e-12)


def test_events_sharing_a_reaction_session_warn(prices, calendars, deepseek):
    # the same event twice under two ids: same day 0 for every symbol -> same CARs counted twice
    twice = pd.concat([deepseek, deepseek.assign(event_id="deepseek_copy")], ignore_index=True)
    with pytest.warns(DataWarning, match=r"events sharing a reaction session .*NVDA on 2025-01-27 "
                                         r"\(deepseek_r1, deepseek_copy\)"):
        event_study(prices, twice[twice.symbol.isin(["NVDA"])], calendars, car_windows=[(0, 0)])


def test_a_factor_from_another_market_warns_only_when_joined_by_date(prices, calendars, deepseek):
    # SOXX trades in New York; SK Hynix in Seoul. Joined by date (factor_alignment="date") a Seoul
    # session meets the New York session that closes after it: warned. Time-aligned (the default)
    # it meets the last New York close before it: no warning.
    import warnings

    hynix = deepseek[deepseek.symbol == "000660.KS"]
    with warnings.catch_warnings(record=True) as caught:  # US holidays also leave missing days
        warnings.simplefilter("always")
        event_study(prices, hynix, calendars, model="factor", factors=["SOXX"], car_windows=[(0, 0)],
                    factor_alignment="date")
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("not synchronous" in m and "SOXX for 000660.KS" in m for m in messages)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        event_study(prices, hynix, calendars, model="factor", factors=["SOXX"], car_windows=[(0, 0)])
    assert not [w for w in caught if "not synchronous" in str(w.message)]


def test_missing_price_rule_and_count(prices, calendars, deepseek):
    # drop NVDA's close of 2025-01-29 (day +2): returns of day +2 and day +3 are missing
    holed = dict(prices)
    holed["NVDA"] = prices["NVDA"].drop(pd.Timestamp("2025-01-29"))
    nvda = deepseek[deepseek.symbol == "NVDA"]
    with pytest.warns(DataWarning, match="NVDA in deepseek_r1 \\(2 of 26\\)"):
        res = event_study(holed, nvda, calendars)
    ars = res.abnormal_returns.set_index("rel_day")
    assert ars.loc[2, "missing"] and ars.loc[3, "missing"] and not ars.loc[4, "missing"]
    row = res.car.set_index("window").loc["[0,+5]"]
    assert row["n_missing"] == 2 and row["n_days"] == 4
    assert row["car"] == pytest.approx(ars.loc[[0, 1, 4, 5], "ar"].sum(), rel=1e-12)


def test_event_without_prices_is_an_error(prices, calendars):
    row = pd.DataFrame({"event_id": ["old"], "symbol": ["NVDA"], "calendar": ["NASDAQ"],
                        "reaction_session": [pd.Timestamp("2020-03-16")]})
    with pytest.raises(StudyError, match="no event x symbol pair has a return"):
        event_study(prices, row, calendars)


def test_pair_without_prices_is_dropped_with_warning(prices, calendars, deepseek):
    old = pd.DataFrame({"event_id": ["old"], "symbol": ["NVDA"], "calendar": ["NASDAQ"],
                        "reaction_session": [pd.Timestamp("2020-03-16")]})
    rows = pd.concat([deepseek[deepseek.symbol == "NVDA"], old], ignore_index=True)
    with pytest.warns(DataWarning, match="NVDA in old"):
        res = event_study(prices, rows, calendars)
    assert list(res.fits["event_id"]) == ["deepseek_r1"]


def test_symbol_without_benchmark_is_an_error(prices, calendars):
    events = load_events()
    rows = align_symbols(events[events.event_id == "deepseek_r1"], calendars, ["SPY"])
    with pytest.raises(StudyError, match=r"no benchmark.*--benchmark SPY=QQQ"):
        event_study(prices, rows, calendars)


def test_missing_benchmark_prices_is_an_error(calendars, deepseek):
    with pytest.raises(StudyError, match="benchmark of NVDA"):
        event_study(load_prices(["NVDA"]), deepseek[deepseek.symbol == "NVDA"], calendars)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"estimation_window": (-250, -3)}, "overlaps event_window"),
        ({"estimation_window": (-11, -250)}, "runs backwards"),
        ({"event_window": "20:-5"}, "runs backwards"),
        ({"car_windows": [(0, 30)]}, "not inside event_window"),
        ({"model": "markt"}, "Did you mean 'market'"),
        ({"model": "factor"}, "needs factors"),
        ({"min_estimation": 1}, "min_estimation"),
    ],
)
def test_bad_parameters_are_clear_errors(prices, calendars, deepseek, options, message):
    with pytest.raises(ParameterError, match=message):
        event_study(prices, deepseek, calendars, **options)


def test_factor_model_with_soxx(prices, calendars, deepseek):
    nvda = deepseek[deepseek.symbol == "NVDA"]
    res = event_study(prices, nvda, calendars, model="factor", factors=["SOXX"])
    fit = res.fits.iloc[0]
    assert fit["model_used"] == "factor" and fit["df"] == 240 - 3
    assert np.isfinite(fit["beta_market"]) and np.isfinite(fit["beta_SOXX"])
    with pytest.raises(ParameterError, match="already the benchmark"):
        event_study(prices, nvda, calendars, model="factor", factors=["SPY"])


def _returns(*names: str) -> pd.DataFrame:
    # raw CSV closes on the rows the files share, simple returns; a missing close gives a
    # missing return that day and the next (pct_change without filling)
    frame = pd.concat([raw_close(n) for n in names], axis=1, keys=list(names))
    return frame.pct_change(fill_method=None)


def test_factor_model_matches_statsmodels(prices, calendars, deepseek):
    # outside reference: statsmodels OLS of NVDA on a constant, SPY and SOXX over rows -250..-11
    # before 2025-01-27, returns from the raw CSVs (NVDA, SPY and SOXX share the US rows)
    r = _returns("NVDA.csv", "SPY.csv", "SOXX.csv")
    day0 = r.index.get_loc(pd.Timestamp("2025-01-27"))
    est = r.iloc[day0 - 250 : day0 - 10]
    ols = sm.OLS(est["NVDA.csv"], sm.add_constant(est[["SPY.csv", "SOXX.csv"]])).fit()
    res = event_study(prices, deepseek[deepseek.symbol == "NVDA"], calendars, model="factor",
                      factors=["SOXX"])
    fit = res.fits.iloc[0]
    assert fit["alpha"] == pytest.approx(ols.params["const"], rel=1e-9)
    assert fit["beta_market"] == pytest.approx(ols.params["SPY.csv"], rel=1e-9)
    assert fit["beta_SOXX"] == pytest.approx(ols.params["SOXX.csv"], rel=1e-9)
    assert fit["beta"] == fit["beta_market"]
    assert fit["sigma2"] == pytest.approx(ols.scale, rel=1e-9)
    day = r.iloc[day0]
    ar0 = day["NVDA.csv"] - ols.params @ np.array([1.0, day["SPY.csv"], day["SOXX.csv"]])
    assert res.car.set_index("window").loc["[0,0]", "car"] == pytest.approx(ar0, rel=1e-9)


def test_factor_window_past_soxx_end_is_nan(prices, calendars):
    # SOXX ends 2026-07-08. meta_compute: NVDA day 0 = 2026-07-01, then 07-02, 07-06 (07-03 is the
    # Independence Day holiday), 07-07, 07-08 = day +4: days +5..+20 have no SOXX return, so
    # CAR[0,+20] misses 16 of 21 days -> NaN (not a 5-day sum shown as +5.03 %), CAR[0,+1] computed.
    events = load_events()
    rows = align_symbols(events[events.event_id == "meta_compute"], calendars, ["NVDA"])
    with pytest.warns(DataWarning, match=r"NVDA in meta_compute \(16 of 26\)"):  # SOXX counted too
        res = event_study(prices, rows, calendars, model="factor", factors=["SOXX"])
    car = res.car.set_index("window")
    assert np.isnan(car.loc["[0,+20]", "car"]) and car.loc["[0,+20]", "n_missing"] == 16
    assert not car.loc["[0,+20]", "complete"] and np.isnan(car.loc["[0,+20]", "bhar"])
    assert np.isnan(car.loc["[0,+5]", "car"]) and car.loc["[0,+5]", "n_missing"] == 1
    assert car.loc["[0,+1]", "complete"] and np.isfinite(car.loc["[0,+1]", "car"])
    ars = res.abnormal_returns.set_index("rel_day")
    assert ars.loc[4, "date"] == pd.Timestamp("2026-07-08") and np.isfinite(ars.loc[4, "car"])
    assert np.isnan(ars.loc[5, "car"]) and np.isnan(ars.loc[20, "car"])  # running CAR stops
    tests = res.tests[res.tests.window == "[0,+20]"].set_index(["scope", "test"])
    assert np.isnan(tests.loc[("meta_compute", "patell_z"), "statistic"])
    assert tests.loc[("meta_compute", "patell_z"), "n"] == 0


def test_window_past_the_end_of_nvda_data(prices, calendars):
    # NVDA's data end 2026-09-25 (a Friday). Day 0 = 2026-09-23: day +1 = 09-24, +2 = 09-25, then no
    # data: CAR[0,+5] runs 3 days past the end -> NaN; CAR[-1,0] = AR(-1) + AR(0) computed.
    row = pd.DataFrame({"event_id": ["late"], "symbol": ["NVDA"], "calendar": ["NASDAQ"],
                        "reaction_session": [pd.Timestamp("2026-09-23")]})
    with pytest.warns(DataWarning, match=r"NVDA in late"):
        res = event_study(prices, row, calendars, car_windows=[(-1, 0), (0, 2), (0, 5)])
    car = res.car.set_index("window")
    assert np.isnan(car.loc["[0,+5]", "car"]) and car.loc["[0,+5]", "n_missing"] == 3
    assert not car.loc["[0,+5]", "complete"]
    ars = res.abnormal_returns.set_index("rel_day")
    assert ars.loc[2, "date"] == pd.Timestamp("2026-09-25") and ars.loc[3, "missing"]
    assert car.loc["[-1,0]", "car"] == pytest.approx(ars.loc[-1, "ar"] + ars.loc[0, "ar"], rel=1e-12)
    assert car.loc["[0,+2]", "complete"] and car.loc["[0,+2]", "n_missing"] == 0
    # outside check of day +2: NVDA 225.07 / 224.58 - 1 (the last two rows of NVDA.csv)
    assert ars.loc[2, "return"] == pytest.approx(225.07 / 224.58 - 1, rel=1e-9)


def test_deepseek_small_n_exact_p_values(result):
    # N = 4, all four day-0 CARs negative (PROVENANCE.md: NVDA -16.97 %, SK hynix -9.86 %, Samsung
    # -2.42 %, Kioxia -5.40 % raw moves). Wilcoxon: W+ = 0 -> exact p = 2/16 = 0.125
    # (scipy.stats.wilcoxon(method="exact")); the normal approximation said 0.068.
    t = result.tests[(result.tests.scope == "deepseek_r1") & (result.tests.window == "[0,0]")]
    t = t.set_index("test")
    cars = result.car[result.car.window == "[0,0]"]["car"].to_numpy()
    assert (cars < 0).all()
    assert t.loc["wilcoxon", "p_value"] == pytest.approx(stats.wilcoxon(cars, method="exact").pvalue,
                                                         abs=1e-15)
    assert t.loc["wilcoxon", "p_value"] == 0.125 and t.loc["wilcoxon", "null"] == "exact Wilcoxon(4)"
    # sign test: w = 0 of 4; exact Binomial(4, p_hat) two-sided (scipy.stats.binomtest)
    null = t.loc["generalized_sign", "null"]
    p_hat = float(null.removeprefix("Binomial(4, ").removesuffix(")"))
    assert abs(p_hat - 0.5) < 0.05
    assert t.loc["generalized_sign", "p_value"] == pytest.approx(
        stats.binomtest(0, 4, p_hat).pvalue, rel=2e-3)  # p_hat printed to 3 decimals
    assert t.loc["generalized_sign", "p_value"] > 0.05  # 0.044 under the normal approximation
    # CAAR = mean of the four CARs
    assert t.loc["bmp", "caar"] == pytest.approx(cars.mean(), rel=1e-12)


def test_deepseek_rbar_on_calendar_dates_matches_independent(result):
    # outside path: statsmodels residuals of each pair from the raw CSVs on its own exchange rows
    # (NVDA on SPY; SK hynix and Samsung on KOSPI, day 0 = 2025-01-31), estimation rows -250..-11,
    # standardized on their own days (divisor M); r = sum over ordered pairs of sum_t z_i z_j over
    # the common calendar dates / sum of the common-date counts. Kioxia (12 residuals < 30) is out.
    resid = {}
    for stock, bench, day0 in (("NVDA.csv", "SPY.csv", "2025-01-27"),
                               ("000660.KS.csv", "_KS11.csv", "2025-01-31"),
                               ("005930.KS.csv", "_KS11.csv", "2025-01-31")):
        r = _returns(stock, bench)
        pos = r.index.get_loc(pd.Timestamp(day0))
        est = r.iloc[pos - 250 : pos - 10].dropna()
        e = sm.OLS(est[stock], sm.add_constant(est[bench])).fit().resid
        resid[stock] = (e - e.mean()) / e.std(ddof=0)
    num = den = 0
    for a in resid:
        for b in resid:
            if a != b:
                common = resid[a].index.intersection(resid[b].index)
                num += float((resid[a][common] * resid[b][common]).sum())
                den += len(common)
    kp = result.tests[(result.tests.test == "bmp_kp") & (result.tests.scope == "deepseek_r1")]
    assert kp["rbar"].iloc[0] == pytest.approx(num / den, rel=1e-9)
    assert kp["rbar"].iloc[0] > 0  # relative-day alignment across exchanges gave r < 0
    other = result.tests[result.tests.test != "bmp_kp"]
    assert other["rbar"].isna().all()


def test_robustness_view_reuses_the_headline_study_unchanged(prices, calendars, deepseek):
    # The headline (market model) result stands in for the view's market-model rerun: the view
    # equals one built by running every model afresh, and its market rows are the headline's CARs.
    from backtest.study.robustness import model_robustness

    with pytest.warns(ShortHistoryWarning, match=r"285A\.T"):
        with_view = event_study(prices, deepseek, calendars, robustness=True)
    afresh = model_robustness(prices, deepseek, calendars, estimation_window=(-250, -11),
                              event_window=(-5, 20), min_estimation=60)
    pd.testing.assert_frame_equal(with_view.robustness, afresh, check_exact=True)
    market = with_view.robustness[with_view.robustness["model"] == "market"]
    np.testing.assert_array_equal(market["car"].to_numpy(), with_view.car["car"].to_numpy())
    assert set(with_view.robustness["model"]) == {"market", "market_adjusted", "constant_mean"}
