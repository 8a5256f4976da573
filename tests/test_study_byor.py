"""Bring-your-own-returns entry point on the estudy2 reference data (and bad input).

Data: tests/data/estudy2, an unchanged copy of ../shared/data/reference/estudy2 (log
returns of 7 US stocks and the S&P 500, 2019-04-02..2020-03-31, PROVENANCE.md there).
The estudy2 documentation example: market model, estimation 2019-04-01..2020-03-13,
event window 2020-03-16..2020-03-20.
Outside reference: statsmodels OLS on the CSV rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from backtest.errors import ParameterError, ShortHistoryWarning
from backtest.study import study_returns

DATA = Path(__file__).resolve().parent / "data" / "estudy2"
EST = ("2019-04-01", "2020-03-13")
EVT = ("2020-03-16", "2020-03-20")


@pytest.fixture(scope="module")
def rates() -> pd.DataFrame:
    return pd.read_csv(DATA / "rates.csv", index_col="date", parse_dates=True)


@pytest.fixture(scope="module")
def index() -> pd.DataFrame:
    return pd.read_csv(DATA / "rates_indx.csv", index_col="date", parse_dates=True)


@pytest.fixture(scope="module")
def result(rates, index):
    with pytest.warns(ShortHistoryWarning, match="ZM in event: 227 of 240.*UBER in event: 212 of 240"):
        return study_returns(rates, index, estimation=EST, event=EVT, return_kind="log")


def test_runs_as_is_on_estudy2_and_counts_missing_rows(result):
    # estimation rows 2019-04-02..2020-03-13 = 240 (the file starts 2019-04-02); ZM has 13 empty
    # rows and UBER 28 (PROVENANCE.md) -> 227 and 212 observations, still >= 60: market model.
    fits = result.fits.set_index("symbol")
    assert fits.loc["AMZN", "n_estimation"] == 240
    assert fits.loc["ZM", "n_estimation"] == 227 and fits.loc["UBER", "n_estimation"] == 212
    assert set(fits["model_used"]) == {"market"}
    assert result.settings["event_window"] == (0, 4)
    assert list(dict.fromkeys(result.car["window"])) == ["[0,+4]", "[0,0]", "[0,+1]"]
    dates = result.abnormal_returns.loc[result.abnormal_returns.symbol == "AMZN", "date"]
    assert list(dates.dt.strftime("%m-%d")) == ["03-16", "03-17", "03-18", "03-19", "03-20"]


@pytest.mark.parametrize("symbol", ["AMZN", "ZM", "UBER", "UPWK"])
def test_matches_statsmodels(result, rates, index, symbol):
    frame = pd.concat([rates[symbol], index["^GSPC"]], axis=1, keys=["r", "m"])
    est = frame.loc[EST[0] : EST[1]].dropna()
    ols = sm.OLS(est["r"], sm.add_constant(est["m"])).fit()
    evt = frame.loc[EVT[0] : EVT[1]]
    xs = sm.add_constant(evt["m"]).to_numpy()
    ar = evt["r"].to_numpy() - xs @ ols.params.to_numpy()
    v = ols.scale * (np.eye(5) + xs @ ols.normalized_cov_params.to_numpy() @ xs.T)
    fit = result.fits.set_index("symbol").loc[symbol]
    assert fit["alpha"] == pytest.approx(ols.params.iloc[0], rel=1e-9)
    assert fit["beta"] == pytest.approx(ols.params.iloc[1], rel=1e-9)
    assert fit["sigma2"] == pytest.approx(ols.scale, rel=1e-9)
    got = result.abnormal_returns[result.abnormal_returns.symbol == symbol]
    np.testing.assert_allclose(got["ar"], ar, rtol=1e-9)
    np.testing.assert_allclose(got["ar_se"], np.sqrt(np.diag(v)), rtol=1e-9)
    row = result.car.set_index(["symbol", "window"]).loc[(symbol, "[0,+4]")]
    assert row["car"] == pytest.approx(ar.sum(), rel=1e-9)
    assert row["t_stat"] == pytest.approx(ar.sum() / np.sqrt(v.sum()), rel=1e-9)
    # log returns: BHAR = exp(sum r) - exp(sum normal)
    assert row["bhar"] == pytest.approx(np.exp(evt["r"].sum()) - np.exp((xs @ ols.params).sum()), rel=1e-9)


def test_relative_windows_give_the_same_numbers(result, rates, index):
    # 2020-03-16 is day 0; estimation rows -240..-1 (2019-04-02..2020-03-13)
    with pytest.warns(ShortHistoryWarning):
        rel = study_returns(rates, index["^GSPC"], estimation=(-240, -1), event=(0, 4),
                            event_date="2020-03-16", car_windows=[(0, 4)], return_kind="log")
    a = result.car[result.car.window == "[0,+4]"].reset_index(drop=True)
    b = rel.car.reset_index(drop=True)
    np.testing.assert_allclose(a["car"], b["car"], rtol=1e-12)
    np.testing.assert_allclose(a["t_stat"], b["t_stat"], rtol=1e-12)


def test_market_per_instrument(rates, index):
    # one market column per instrument: the same series under each name gives the same AR
    cols = ["AMZN", "NFLX"]
    per = pd.DataFrame({c: index["^GSPC"] for c in cols})
    one = study_returns(rates[cols], index, estimation=EST, event=EVT)
    each = study_returns(rates[cols], per, estimation=EST, event=EVT)
    np.testing.assert_allclose(one.abnormal_returns["ar"], each.abnormal_returns["ar"], rtol=1e-12)


def test_too_short_falls_back(rates, index):
    # estimation 2020-01-02..2020-03-13 = 50 rows < 60 -> market-adjusted: AR = r - r_m
    with pytest.warns(ShortHistoryWarning, match="market-adjusted"):
        res = study_returns(rates[["AMZN"]], index, estimation=("2020-01-02", "2020-03-13"), event=EVT)
    assert res.fits["model_used"].iloc[0] == "market_adjusted"
    assert res.fits["n_estimation"].iloc[0] == 50
    expected = rates.loc["2020-03-16", "AMZN"] - index.loc["2020-03-16", "^GSPC"]
    assert res.abnormal_returns["ar"].iloc[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"estimation": ("2020-03-13", "2019-04-01"), "event": EVT}, "runs backwards"),
        ({"estimation": ("2019-04-01", "2020-03-17"), "event": EVT}, "overlaps event"),
        ({"estimation": EST, "event": ("2021-01-01", "2021-01-08")}, "no row of the returns panel"),
        ({"estimation": (-240, -1), "event": EVT}, "both as relative days or both as dates"),
        ({"estimation": (-240, -1), "event": (0, 4)}, "event_date"),
        ({"estimation": EST, "event": EVT, "model": "factor"}, "needs factors"),
    ],
)
def test_bad_input(rates, index, options, message):
    with pytest.raises(ParameterError, match=message):
        study_returns(rates, index, **options)


def test_market_without_matching_columns_is_an_error(rates, index):
    two = pd.DataFrame({"X": index["^GSPC"], "Y": index["^GSPC"]})
    with pytest.raises(ParameterError, match="market: no column for AMZN"):
        study_returns(rates[["AMZN"]], two, estimation=EST, event=EVT)
