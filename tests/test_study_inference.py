"""Placebo, bootstrap, calendar-time, GARCH and Scholes-Williams against outside references."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.study.bootstrap import bootstrap_car, stationary_indices
from backtest.study.calendar_time import portfolio_test
from backtest.study.garch import SCALE, garch_table
from backtest.study.history import gather
from backtest.study.models import fit_model
from backtest.study.placebo import empirical_p
from backtest.study.scholes_williams import scholes_williams_beta


@pytest.fixture(scope="module")
def shipped():
    from backtest.inputs import load_inputs
    from backtest.study import event_study
    from backtest.study.inference import infer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the shipped sample's short-history note
        inputs = load_inputs()
        result = event_study(inputs.prices, inputs.alignment, inputs.calendars)
        inference = infer(result, inputs.prices, inputs.alignment, inputs.calendars, bootstrap=99)
    return inputs, result, inference


def test_placebo_event_values_are_the_studys(shipped):
    _, result, inference = shipped
    p = inference.placebo
    car = p[p["statistic"] == "car"].merge(result.car, on=["event_id", "symbol", "window"])
    assert len(car) == len(result.car)
    np.testing.assert_allclose(car["value"], car["car"], rtol=0, atol=1e-12)
    event_level = p[p["symbol"] == ""].rename(columns={"statistic": "test", "event_id": "scope"})
    tests = event_level.merge(result.tests, on=["scope", "test", "window"])
    assert set(tests["test"]) >= {"cross_sectional_t", "bmp", "patell_z", "brown_warner", "lamb",
                                       "corrado_rank", "rank_sign", "sign", "wilcoxon", "generalized_sign",
                                       "brown_warner_1980"}
    np.testing.assert_allclose(tests["value"], tests["statistic"], rtol=1e-9, atol=1e-12)


def test_placebo_dates_avoid_every_event_window(shipped):
    inputs, _, inference = shipped
    draws = inference.placebo_draws
    nvda = inputs.calendars.sessions("XNYS")
    placebo_days = pd.DatetimeIndex(draws.loc[~draws["is_event"], "date"].unique())
    pos = nvda.get_indexer(placebo_days)
    for day0 in inputs.alignment.loc[inputs.alignment["symbol"] == "NVDA", "reaction_session"]:
        q = nvda.get_loc(pd.Timestamp(day0))
        assert (np.abs(pos - q) > 25).all()  # event window -5..20: |p - q| <= 25 would overlap
    # NVDA's DeepSeek day-0 AR (-13.3 %) is the most negative of all its eligible days
    ar = inference.placebo.query("statistic == 'ar' and symbol == 'NVDA' and event_id == 'deepseek_r1'")
    assert int(ar["rank"].iloc[0]) == 1 and ar["n_placebo"].iloc[0] > 200
    assert ar["p_value"].iloc[0] == pytest.approx(1 / (1 + ar["n_placebo"].iloc[0]), abs=1e-15)


def test_empirical_p_hand():
    # |S_0| = 2: placebo 1, -3, 2, 0.5 -> two at least as extreme -> p = 3/5; rank from below 2
    p, rank, m = empirical_p(np.array([-2.0]), np.array([[1.0], [-3.0], [2.0], [0.5]]))
    assert p[0] == pytest.approx(0.6, abs=1e-15) and rank[0] == 2 and m[0] == 4


def test_bootstrap_is_deterministic_and_keeps_dates_whole():
    rng = np.random.default_rng(3)
    resid = rng.normal(0, 0.01, (200, 3))
    car = np.array([[-0.05, 0.0], [-0.04, 0.01], [-0.03, 0.02]])
    a = bootstrap_car(car, resid, [(0, 0), (0, 4)], n_boot=199, seed=7)
    b = bootstrap_car(car, resid, [(0, 0), (0, 4)], n_boot=199, seed=7)
    for key in ("car_low", "car_high", "caar_low", "caar_p"):
        np.testing.assert_array_equal(a[key], b[key])
    assert (a["car_low"] < car).all() and (car < a["car_high"]).all()
    # one-day window, iid blocks: CAR* are residual rows -> the interval is CAR - quantiles of them
    # (200 rows: the 97.5 % quantile lies near the 195th order statistic, the 2.5 % near the 5th)
    c = bootstrap_car(car[:, :1], resid, [(0, 0)], n_boot=20000, seed=1, block=1.0)
    s = np.sort(resid, axis=0)
    assert ((car[:, 0] - s[197] <= c["car_low"][:, 0]) & (c["car_low"][:, 0] <= car[:, 0] - s[192])).all()
    assert ((car[:, 0] - s[7] <= c["car_high"][:, 0]) & (c["car_high"][:, 0] <= car[:, 0] - s[2])).all()


def test_stationary_indices_block_lengths_are_geometric():
    idx = stationary_indices(1000, 50, 4000, 5.0, np.random.default_rng(0))
    breaks = (np.diff(idx, axis=1) % 1000) != 1
    # a new block starts with probability 1/5 at each step (Politis-Romano 1994)
    assert breaks.mean() == pytest.approx(0.2 * (1 - 1 / 1000) + 1 / 1000 * 0, abs=0.005)


def test_calendar_time_equals_ols_prediction_on_the_portfolio():
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    m = rng.normal(0, 0.01, 130)
    r = 0.0005 + np.array([[0.8], [1.2], [1.5]]) * m + rng.normal(0, 0.01, (3, 130))
    r[:, 125] -= 0.04  # day 0 at column 125 (event window 120..129, day 0 = column 5)
    x = m[None, :, None].repeat(3, 0)
    res = portfolio_test(r[:, :120], x[:, :120], r[:, 120:], x[:, 120:], model="market",
                         min_estimation=60, car_cols=[(5, 5)], day0_col=5)
    port = r.mean(axis=0)
    ols = sm.OLS(port[:120], sm.add_constant(m[:120])).fit()
    pred = ols.get_prediction(np.array([[1.0, m[125]]]))
    ar = port[125] - pred.predicted_mean[0]
    assert res["car"][0] == pytest.approx(ar, abs=1e-12)
    assert res["t_stat"][0] == pytest.approx(ar / pred.se_obs[0], abs=1e-9)
    assert res["df"] == 118


def test_garch_parameters_equal_archs_own_fit():
    from arch import arch_model

    rng = np.random.default_rng(5)
    n = 400
    m = rng.standard_t(5, n) * 0.01
    e, h = np.zeros(n), np.zeros(n)
    h[0] = 1e-4
    for t in range(n):  # GARCH(1,1): omega 1e-5, alpha 0.1, gamma 0.8
        if t:
            h[t] = 1e-5 + 0.1 * e[t - 1] ** 2 + 0.8 * h[t - 1]
        e[t] = math.sqrt(h[t]) * rng.standard_normal()
    r = 0.0002 + 1.1 * m + e
    table = garch_table([("ev", "X")], r[None], m[None], 370, 375, [(5, 5)], ["[0,0]"], 5)
    ref = arch_model(pd.Series(r[:370] * SCALE), x=pd.DataFrame({"m": m[:370] * SCALE}), mean="LS",
                     vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    row = table.iloc[0]
    p = ref.params.to_numpy()
    np.testing.assert_allclose([row.mu * SCALE, row.beta, row.omega * SCALE**2, row.alpha, row.gamma],
                               p, rtol=1e-10)
    assert row.loglik == pytest.approx(ref.loglikelihood, rel=1e-12)
    # SAR on day 0 from the same recursion run by hand with arch's parameters
    resid = r * SCALE - p[0] - p[1] * m * SCALE
    var = np.empty(n)
    var[0] = ref.conditional_volatility.iloc[0] ** 2
    for t in range(1, n):
        var[t] = p[2] + p[3] * resid[t - 1] ** 2 + p[4] * var[t - 1]
    assert row.sar0 == pytest.approx(resid[380] / math.sqrt(var[380]), rel=1e-6)


def test_scholes_williams_beta_hand():
    rng = np.random.default_rng(9)
    m = rng.normal(0, 0.01, 61)
    r = 0.001 + 0.6 * m + 0.5 * np.r_[0.0, m[:-1]] + rng.normal(0, 0.005, 61)  # lagged reaction
    a, b, n = scholes_williams_beta(r[None], m[None])
    y, lag, cur, lead = r[1:-1], m[:-2], m[1:-1], m[2:]
    slopes = [np.polyfit(x, y, 1)[0] for x in (lag, cur, lead)]
    rho = np.corrcoef(lag, cur)[0, 1]
    beta = sum(slopes) / (1 + 2 * rho)
    assert b[0] == pytest.approx(beta, abs=1e-10) and n[0] == 59
    assert a[0] == pytest.approx(y.mean() - beta * cur.mean(), abs=1e-10)
    # non-synchronous trading: OLS sees 0.6 of the true 1.1, Scholes-Williams most of it
    ols = fit_model("market", r[None], m[None, :, None]).beta[0, 0]
    assert abs(b[0] - 1.1) < abs(ols - 1.1)
    sw = fit_model("scholes_williams", r[None], m[None, :, None])
    assert sw.beta[0, 0] == pytest.approx(beta, abs=1e-10) and sw.df[0] == 59


def test_gather_windows():
    values = np.arange(10.0)[None]
    out = gather(values, np.array([[0, 9]]), -1, 1)
    np.testing.assert_array_equal(out[0, 0], [np.nan, 0, 1])
    np.testing.assert_array_equal(out[0, 1], [8, 9, np.nan])


def test_size_small_fixed_seed():
    # 30 null events, N = 10, t(4) returns with a common factor (rho 0.5): the cross-sectional
    # t test over-rejects; the placebo, bootstrap and calendar-time tests hold size (2,000-event
    # version: benchmarks/bench_size_power.py)
    from backtest.study.simulation import rejection_rates

    rates = rejection_rates(30, 10, n_placebo=99, n_boot=99, seed=2)
    assert rates["cross_sectional_t"] >= 0.15
    for name in ("placebo_caar", "bootstrap_caar", "calendar_time"):
        assert rates[name] <= 0.10, name


def test_cli_inference(capsys, tmp_path):
    from backtest.cli import main

    js = tmp_path / "s.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["study", "--event", "deepseek_r1", "--symbols", "NVDA", "000660.KS",
                     "--car", "0:0,0:5", "--placebo", "--bootstrap", "49", "--calendar-time",
                     "--json", str(js), "--inference-dir", str(tmp_path / "inf")])
    out = capsys.readouterr().out
    assert code == 0
    assert "ranks 1 of" in out and "Calendar-time portfolio test" in out and "bootstrap" in out
    data = json.loads(js.read_text())
    assert {"placebo", "bootstrap", "calendar_time", "settings"} <= set(data["inference"])
    assert sorted(p.name for p in (tmp_path / "inf").iterdir()) == [
        "bootstrap.csv", "calendar_time.csv", "garch.csv", "placebo.csv", "placebo_draws.csv"]


def test_cli_rejects_negative_bootstrap(capsys):
    from backtest.cli import main

    assert main(["study", "--bootstrap", "-5"]) == 2
    assert "--bootstrap" in capsys.readouterr().err
