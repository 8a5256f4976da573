"""GARCH(1,1) market model fitted with ``arch``: abnormal returns standardized by the
conditional variance.

Volatility clusters: a day-0 move of -4 % is ordinary in a turbulent month and rare in a calm
one. The market model with GARCH(1,1) errors,
``R_t = mu + beta R_mt + e_t``, ``e_t = sigma_t z_t``,
``sigma_t^2 = omega + alpha e_{t-1}^2 + gamma sigma_{t-1}^2`` (Bollerslev 1986, JoE 31(3),
eq. 5; in event studies e.g. Corhay-Tourani Rad 1996, JBFA 23(4)), is fitted by ``arch``'s
maximum likelihood on the estimation window; the fitted recursion then runs on, with the
parameters fixed, through the gap and the event window, and ``SAR_t = AR_t / sigma_t``.
One fit per pair (a numerical optimisation each: a few pairs per event).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: returns are scaled to percent for the optimiser (arch's advice), parameters scaled back
SCALE = 100.0


def garch_market_model(returns: np.ndarray, market: np.ndarray, n_est: int):
    """Fit on the first ``n_est`` days; return the ``arch`` result and the fixed-parameter
    filter over all days (days with a missing return or market are dropped first).

    ``returns`` and ``market`` ``(T,)`` in fractions; the ``arch`` model sees them in percent.
    """
    from arch import arch_model

    ok = np.isfinite(returns) & np.isfinite(market)
    y = pd.Series(returns[ok] * SCALE)
    x = pd.DataFrame({"market": market[ok] * SCALE})
    n_fit = int(ok[:n_est].sum())
    fitted = arch_model(y.iloc[:n_fit], x=x.iloc[:n_fit], mean="LS", vol="GARCH", p=1, q=1,
                        dist="normal", rescale=False).fit(disp="off")
    full = arch_model(y, x=x, mean="LS", vol="GARCH", p=1, q=1, dist="normal",
                      rescale=False).fix(fitted.params.to_numpy())
    return fitted, full, ok


def garch_table(pairs: Sequence[tuple[str, str]], span_r: np.ndarray, span_m: np.ndarray, n_est: int,
                event_start: int, car_cols: Sequence[tuple[int, int]], labels: Sequence[str],
                day0_col: int) -> pd.DataFrame:
    """GARCH(1,1) market-model fits and standardized CARs of each pair, tidy.

    ``span_r`` and ``span_m`` ``(n, S)``: each pair's returns and market returns from the
    first estimation day to the last event day, contiguous; the fit uses the first ``n_est``
    columns, the event window starts at column ``event_start`` (``car_cols`` and ``day0_col``
    count from there). Pairs with fewer than 30 estimation days are left out.

    Columns: event_id, symbol, window, mu, beta, omega, alpha, gamma (GARCH coefficient on
    ``sigma^2_{t-1}``), persistence (``alpha + gamma``), loglik, n_estimation, car,
    car_sigma (``sqrt(sum_t sigma_t^2)``), scar (``CAR / car_sigma``), sar0 (day-0 SAR).
    """
    rows = []
    l1 = n_est
    for i, (event_id, symbol) in enumerate(pairs):  # one ML fit per pair
        r, m = span_r[i], span_m[i]
        if np.isfinite(r[:l1] * m[:l1]).sum() < 30:
            continue
        fitted, full, ok = garch_market_model(r, m, l1)
        p = fitted.params
        mu, beta = p.iloc[0] / SCALE, p.iloc[1]
        sigma = np.full(r.shape, np.nan)
        sigma[ok] = np.asarray(full.conditional_volatility) / SCALE
        ar = (r - mu - beta * m)[event_start:]
        sig = sigma[event_start:]
        sar0 = ar[day0_col] / sig[day0_col]
        for (first, last), label in zip(car_cols, labels, strict=True):
            car = ar[first : last + 1].sum()
            car_sigma = np.sqrt((sig[first : last + 1] ** 2).sum())
            rows.append({"event_id": event_id, "symbol": symbol, "window": label, "mu": mu, "beta": beta,
                         "omega": p.iloc[2] / SCALE**2, "alpha": p.iloc[3], "gamma": p.iloc[4],
                         "persistence": p.iloc[3] + p.iloc[4], "loglik": float(fitted.loglikelihood),
                         "n_estimation": int(np.isfinite(r[:l1] * m[:l1]).sum()), "car": car,
                         "car_sigma": car_sigma, "scar": car / car_sigma, "sar0": sar0})
    return pd.DataFrame(rows)
