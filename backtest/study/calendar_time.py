"""Calendar-time portfolio test for a common-date event (Jaffe 1974; Mandelker 1974).

When every instrument shares day 0, their abnormal returns are one draw of a correlated
vector, not ``N`` independent draws. Forming the equal-weighted portfolio of the affected
instruments on each date and testing *its* abnormal return against *its own* time-series
variance makes the cross-correlation irrelevant: the portfolio's estimation-window
residuals already contain it. The test is exact (under the model's usual assumptions)
whatever the correlation between the instruments.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backtest.study import statistics as st
from backtest.study.panel import compute


def portfolio_test(est_r: np.ndarray, est_x: np.ndarray, evt_r: np.ndarray, evt_x: np.ndarray, *,
                   model: str, min_estimation: int, car_cols: Sequence[tuple[int, int]],
                   return_kind: str = "simple", day0_col: int | None = None) -> dict[str, np.ndarray]:
    """CAR of the equal-weighted portfolio of ``N`` pairs and its t test, per window.

    Parameters
    ----------
    est_r, evt_r : (N, L1), (N, L2) — the pairs' returns on common relative days
    est_x, evt_x : (N, L1, k), (N, L2, k) — their regressors (market first)
    model, min_estimation, car_cols, return_kind, day0_col : as :func:`backtest.study.panel.compute`

    Returns
    -------
    dict: ``car``, ``car_se``, ``t_stat``, ``p_value`` ``(W,)``; ``df``, ``n_pairs``, ``beta`` (floats)

    Notes
    -----
    ``R_pt = N_t^-1 sum_i R_it`` (pairs with a return on ``t``), the regressors averaged the
    same way (the common market when the pairs share one); the study's model is fitted to
    ``R_pt`` on the estimation window and ``t = CAR_p / sqrt(Var(CAR_p))`` with the full
    prediction-error variance, null ``t(M - k - 1)`` (Jaffe 1974, JB 47(3); Mandelker 1974,
    JFE 1(4); variance as MacKinlay 1997, eq. 7-8).
    """
    def mean(a: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            n = np.isfinite(a).sum(axis=0)
            return np.where(n > 0, np.where(np.isfinite(a), a, 0.0).sum(axis=0) / np.maximum(n, 1),
                            np.nan)[None]

    out = compute(mean(est_r), mean(est_x), mean(evt_r), mean(evt_x), model=model,
                  min_estimation=min_estimation, car_cols=car_cols, return_kind=return_kind,
                  day0_col=day0_col)
    car, var = out.car[0], out.car_var[0]
    df = float(out.fit.df[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(var)
        t = car / se
    p = st.p_value(t, np.full(t.shape, df if df >= 1 else np.nan))
    beta = float(out.fit.beta[0, 0]) if out.fit.beta.shape[1] else float("nan")
    return {"car": car, "car_se": se, "t_stat": t, "p_value": p, "df": df,
            "n_pairs": int(est_r.shape[0]), "beta": beta}
