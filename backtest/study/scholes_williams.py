"""Scholes-Williams (1977) betas for thin or non-synchronous trading.

A stock that trades less often than its index (or on another exchange's clock) reacts to
the market with a lag: the OLS slope on same-day market returns is biased toward zero.
Scholes and Williams add the slopes on the previous and next day's market return and divide
by ``1 + 2 rho_m``:

    beta_SW  = (b_-1 + b_0 + b_+1) / (1 + 2 rho_m)         (Scholes-Williams 1977, JFE 5(3), eq. 13)
    alpha_SW = mean(R_i) - beta_SW mean(R_m)                (eq. 14)

``b_k`` the OLS slope of ``R_it`` on ``R_m,t+k`` and ``rho_m`` the first-order
autocorrelation of the market, all on the same days (those with ``R_it``, ``R_m,t-1``,
``R_mt`` and ``R_m,t+1``: the window's first and last day drop out). Registered as the
model ``"scholes_williams"`` of :func:`backtest.study.models.fit_model`.
"""

from __future__ import annotations

import numpy as np


def _slope(y: np.ndarray, x: np.ndarray, valid: np.ndarray, n: np.ndarray) -> np.ndarray:
    # OLS slope of y on x over the valid days of each row
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.where(valid, x, 0.0).sum(axis=1) / n
        ym = np.where(valid, y, 0.0).sum(axis=1) / n
        dx = np.where(valid, x - xm[:, None], 0.0)
        dy = np.where(valid, y - ym[:, None], 0.0)
        return (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)


def scholes_williams_beta(est_r: np.ndarray, market: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(alpha_SW, beta_SW, n_days)`` of each row of ``est_r`` ``(n, L)`` on ``market`` ``(n, L)``.

    >>> m = np.array([[0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.005]])
    >>> a, b, n = scholes_williams_beta(0.001 + 1.2 * m, m)
    >>> int(n[0])                                # first and last day drop out
    5
    """
    r = np.asarray(est_r, dtype=float)
    m = np.asarray(market, dtype=float)
    y, m0, lag, lead = r[:, 1:-1], m[:, 1:-1], m[:, :-2], m[:, 2:]
    valid = np.isfinite(y) & np.isfinite(m0) & np.isfinite(lag) & np.isfinite(lead)
    n = valid.sum(axis=1)
    b_sum = _slope(y, lag, valid, n) + _slope(y, m0, valid, n) + _slope(y, lead, valid, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        lm, cm = np.where(valid, lag, 0.0).sum(axis=1) / n, np.where(valid, m0, 0.0).sum(axis=1) / n
        dl, dc = np.where(valid, lag - lm[:, None], 0.0), np.where(valid, m0 - cm[:, None], 0.0)
        rho = (dl * dc).sum(axis=1) / np.sqrt((dl * dl).sum(axis=1) * (dc * dc).sum(axis=1))
        beta = b_sum / (1.0 + 2.0 * rho)
        alpha = np.where(valid, y, 0.0).sum(axis=1) / n - beta * cm
    return alpha, beta, n


def scholes_williams_fit(est_r: np.ndarray, est_x: np.ndarray):
    """:class:`~backtest.study.models.NormalFit` with Scholes-Williams ``alpha`` and ``beta``.

    Residuals ``e_t = R_t - alpha_SW - beta_SW R_mt`` on the days with both returns;
    ``sigma2 = e'e / (M - 2)``. The prediction-error terms (``1/M``, ``S_mm^-1``) are the
    OLS ones (MacKinlay 1997, eq. 8): an approximation for the SW estimator, whose
    sampling variance is close to OLS's when the market's autocorrelation is small.
    """
    from backtest.study.models import NormalFit, _masked_mean, _residual_variance, _valid

    est_r = np.asarray(est_r, dtype=float)
    est_x = np.asarray(est_x, dtype=float)[..., :1]
    market = est_x[..., 0]
    alpha, beta, _ = scholes_williams_beta(est_r, market)
    valid = _valid(est_r, est_x)
    n = valid.sum(axis=1)
    x_mean = _masked_mean(est_x, valid, n)
    dx = np.where(valid, market - x_mean, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s_inv = (1.0 / (dx * dx).sum(axis=1))[:, None, None]
    resid = np.where(valid, est_r - alpha[:, None] - beta[:, None] * market, np.nan)
    df = n - 2
    sigma2 = _residual_variance(resid, valid, df)
    bad = ~(np.isfinite(beta) & np.isfinite(s_inv[:, 0, 0]) & (df >= 1))
    nan = np.where(bad, np.nan, 1.0)
    return NormalFit(alpha * nan, (beta * nan)[:, None], x_mean, s_inv * nan[:, None, None],
                     1.0 / np.maximum(n, 1) * nan, sigma2 * nan, n, df, resid, np.ones(len(n), dtype=bool))
