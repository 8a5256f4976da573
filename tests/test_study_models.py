"""Normal-return models against hand computations (and statsmodels as an outside check).

The hand example (all models): a 5-day estimation window with market returns
m = [-2, -1, 0, 1, 2] %, and returns built as r = 0.001 + 1.5 m + e with
e = 0.01 * [1, -2, 0, 2, -1]. e sums to zero and is orthogonal to m, so OLS gives
back alpha = 0.001, beta = 1.5 exactly, and
    r = [-0.019, -0.034, 0.001, 0.036, 0.021]
    sigma^2 = e'e / (5 - 2) = 0.0001 * (1 + 4 + 0 + 4 + 1) / 3 = 0.001 / 3
    S_xx = sum (m - 0)^2 = 0.0001 * (4 + 1 + 0 + 1 + 4) = 0.001,  mean(m) = 0.
Event days: (m, r) = (0.03, 0.05) and (-0.01, -0.02).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from backtest.study.models import bhar_window, car_window, fit_model, predict, select_fit

M = np.array([[-0.02, -0.01, 0.0, 0.01, 0.02]])
E = 0.01 * np.array([[1.0, -2.0, 0.0, 2.0, -1.0]])
R = 0.001 + 1.5 * M + E
EVT_M = np.array([[0.03, -0.01]])
EVT_R = np.array([[0.05, -0.02]])
TOL = 1e-12


def run(model: str, r=R, m=M, evt_r=EVT_R, evt_m=EVT_M):
    fit = fit_model(model, r, m[..., None])
    normal, ar, ar_var, d = predict(fit, evt_r, evt_m[..., None])
    car, car_var, n_days = car_window(fit, ar, d, 0, 1)
    return fit, normal, ar, ar_var, car, car_var, n_days


def test_market_model_hand_computation():
    fit, normal, ar, ar_var, car, car_var, n_days = run("market")
    assert fit.alpha[0] == pytest.approx(0.001, abs=TOL)
    assert fit.beta[0, 0] == pytest.approx(1.5, abs=TOL)
    assert fit.sigma2[0] == pytest.approx(0.001 / 3, abs=TOL)
    assert fit.df[0] == 3 and fit.n_est[0] == 5
    # NR_0 = 0.001 + 1.5*0.03 = 0.046 -> AR_0 = 0.004; NR_1 = 0.001 - 0.015 = -0.014 -> AR_1 = -0.006
    np.testing.assert_allclose(normal[0], [0.046, -0.014], atol=TOL)
    np.testing.assert_allclose(ar[0], [0.004, -0.006], atol=TOL)
    # Var(AR_t) = s2 (1 + 1/5 + m_t^2 / S_xx): day 0: 1 + 0.2 + 0.9 = 2.1; day 1: 1 + 0.2 + 0.1 = 1.3
    np.testing.assert_allclose(ar_var[0], [2.1 * 0.001 / 3, 1.3 * 0.001 / 3], atol=TOL)
    # Var(CAR[0,1]) = s2 (2 + 4/5 + (0.03 - 0.01)^2 / 0.001) = 3.2 s2 ; CAR = -0.002
    # (gamma'V gamma: 2.1 + 1.3 + 2 * cov, cov = 1/5 + 0.03 * -0.01 / 0.001 = -0.1 -> 3.2)
    assert car[0] == pytest.approx(-0.002, abs=TOL)
    assert car_var[0] == pytest.approx(3.2 * 0.001 / 3, abs=TOL)
    assert n_days[0] == 2


def test_constant_mean_hand_computation():
    fit, _normal, ar, ar_var, car, car_var, _ = run("constant_mean")
    # mu = mean(r) = 0.005 / 5 = 0.001; deviations -0.02, -0.035, 0, 0.035, 0.02
    # sigma^2 = (4e-4 + 1.225e-3 + 0 + 1.225e-3 + 4e-4) / 4 = 8.125e-4
    assert fit.alpha[0] == pytest.approx(0.001, abs=TOL)
    assert fit.sigma2[0] == pytest.approx(8.125e-4, abs=TOL)
    np.testing.assert_allclose(ar[0], [0.049, -0.021], atol=TOL)
    # Var(AR) = s2 (1 + 1/5) = 9.75e-4 ; Var(CAR[0,1]) = s2 (2 + 4/5) = 2.275e-3
    np.testing.assert_allclose(ar_var[0], [9.75e-4, 9.75e-4], atol=TOL)
    assert car[0] == pytest.approx(0.028, abs=TOL)
    assert car_var[0] == pytest.approx(2.275e-3, abs=TOL)


def test_market_adjusted_hand_computation():
    fit, normal, ar, ar_var, car, car_var, _ = run("market_adjusted")
    # estimation AR = r - m = [0.001, -0.024, 0.001, 0.026, 0.001], mean 0.001
    # sigma^2 = (0 + 0.025^2 + 0 + 0.025^2 + 0) / 4 = 3.125e-4 ; no parameters -> Var(AR) = sigma^2
    np.testing.assert_allclose(fit.est_resid[0], [0.001, -0.024, 0.001, 0.026, 0.001], atol=TOL)
    assert fit.sigma2[0] == pytest.approx(3.125e-4, abs=TOL)
    np.testing.assert_allclose(normal[0], EVT_M[0], atol=TOL)
    np.testing.assert_allclose(ar[0], [0.02, -0.01], atol=TOL)
    np.testing.assert_allclose(ar_var[0], [3.125e-4, 3.125e-4], atol=TOL)
    assert car[0] == pytest.approx(0.01, abs=TOL)
    assert car_var[0] == pytest.approx(6.25e-4, abs=TOL)


def test_factor_model_hand_computation():
    # second factor f = 0.01 * [1, -1, 0, -1, 1]: sums to 0, orthogonal to m and to e
    # r2 = r + 0.5 f -> alpha 0.001, betas (1.5, 0.5), sigma^2 = e'e / (5 - 3) = 0.001 / 2
    f = 0.01 * np.array([[1.0, -1.0, 0.0, -1.0, 1.0]])
    x = np.stack([M, f], axis=-1)
    fit = fit_model("factor", R + 0.5 * f, x)
    np.testing.assert_allclose(fit.beta[0], [1.5, 0.5], atol=TOL)
    assert fit.alpha[0] == pytest.approx(0.001, abs=TOL)
    assert fit.sigma2[0] == pytest.approx(5e-4, abs=TOL)
    # event (m, f, r) = (0.03, 0.02, 0.06): NR = 0.001 + 0.045 + 0.01 = 0.056, AR = 0.004
    # Var = s2 (1 + 1/5 + 0.03^2/0.001 + 0.02^2/0.0004) = 3.1 * 5e-4 = 1.55e-3
    _, ar, ar_var, _ = predict(fit, np.array([[0.06]]), np.array([[[0.03, 0.02]]]))
    assert ar[0, 0] == pytest.approx(0.004, abs=TOL)
    assert ar_var[0, 0] == pytest.approx(1.55e-3, abs=TOL)


def test_market_model_matches_statsmodels_with_missing_days():
    # outside reference: statsmodels OLS on the rows that are present; prediction variance
    # = scale * (1 + x0 (X'X)^-1 x0'), Var(CAR) = gamma' (s2 I + X*(X'X)^-1 X*') gamma.
    rng = np.random.default_rng(7)
    m = rng.normal(0, 0.01, (3, 120))
    r = 0.0004 + rng.uniform(0.5, 2.0, (3, 1)) * m + rng.normal(0, 0.02, (3, 120))
    r[1, [3, 50, 51]] = np.nan
    m[2, 10] = np.nan
    evt_m = rng.normal(0, 0.01, (3, 6))
    evt_r = 1.2 * evt_m + rng.normal(0, 0.02, (3, 6))
    evt_r[0, 2] = np.nan
    fit = fit_model("market", r, m[..., None])
    _, ar, ar_var, d = predict(fit, evt_r, evt_m[..., None])
    _car, car_var, _ = car_window(fit, ar, d, 1, 4)
    for i in range(3):
        keep = np.isfinite(r[i]) & np.isfinite(m[i])
        res = sm.OLS(r[i, keep], sm.add_constant(m[i, keep])).fit()
        assert fit.alpha[i] == pytest.approx(res.params[0], rel=1e-10)
        assert fit.beta[i, 0] == pytest.approx(res.params[1], rel=1e-10)
        assert fit.sigma2[i] == pytest.approx(res.scale, rel=1e-10)
        xs = np.column_stack([np.ones(6), evt_m[i]])
        v = res.scale * (np.eye(6) + xs @ res.normalized_cov_params @ xs.T)
        ok = np.isfinite(evt_r[i])
        np.testing.assert_allclose(ar_var[i][ok], np.diag(v)[ok], rtol=1e-10)
        gamma = np.zeros(6)
        gamma[1:5] = ok[1:5]
        assert car_var[i] == pytest.approx(gamma @ v @ gamma, rel=1e-10)
        pred = res.get_prediction(xs[ok])
        np.testing.assert_allclose(np.sqrt(ar_var[i][ok]), pred.se_obs, rtol=1e-10)


def test_too_short_or_flat_estimation_gives_nan_not_error():
    r = np.array([[0.01, 0.02, np.nan, np.nan, np.nan], [0.01, 0.02, 0.03, -0.01, 0.0]])
    m = np.array([[0.01, 0.00, np.nan, np.nan, np.nan], [0.0, 0.0, 0.0, 0.0, 0.0]])
    fit = fit_model("market", r, m[..., None])
    # pair 0: 2 observations -> df 0; pair 1: market has no variance -> no beta
    assert np.isnan(fit.sigma2).all()
    assert np.isnan(fit.beta).all()
    _, ar, ar_var, _ = predict(fit, np.array([[0.01], [0.01]]), np.array([[[0.0]], [[0.0]]]))
    assert np.isnan(ar).all() and np.isnan(ar_var).all()


def test_select_fit_mixes_models_per_pair():
    r = np.vstack([R, R])
    m = np.vstack([M, M])[..., None]
    mixed = select_fit(np.array([False, True]), fit_model("market", r, m),
                       fit_model("market_adjusted", r, m))
    _, ar, ar_var, _ = predict(mixed, np.vstack([EVT_R, EVT_R]), np.vstack([EVT_M, EVT_M])[..., None])
    np.testing.assert_allclose(ar, [[0.004, -0.006], [0.02, -0.01]], atol=TOL)
    np.testing.assert_allclose(ar_var[1], [3.125e-4, 3.125e-4], atol=TOL)


def test_bhar_simple_and_log():
    # simple: (1.05)(0.98) - (1.046)(0.986) = 1.029 - 1.031356 = -0.002356
    _fit, normal, ar, *_ = run("market")
    assert bhar_window(EVT_R, normal, ar, 0, 1, "simple")[0] == pytest.approx(-0.002356, abs=TOL)
    # log: exp(0.05 - 0.02) - exp(0.046 - 0.014)
    expected = np.exp(0.03) - np.exp(0.032)
    assert bhar_window(EVT_R, normal, ar, 0, 1, "log")[0] == pytest.approx(expected, abs=TOL)
