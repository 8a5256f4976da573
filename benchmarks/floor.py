"""The numpy floor of an event study: the least work any engine must do, written plainly.

Market model by OLS on the estimation window (pairs at once, NaN = missing), abnormal returns
in the event window, CARs with the full prediction-error variance and their t statistics:
``Var(CAR) = s^2 (L + L^2 / M + D^2 / S_mm)`` with ``D`` the sum of the market's deviations from
its estimation mean over the window (MacKinlay 1997, JEL 35(1), eq. 7-8 and sec. 4). No tests
across pairs, no ranks, no tables: what the engine is measured against in ``bench_study.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def floor(est_r: np.ndarray, est_m: np.ndarray, evt_r: np.ndarray, evt_m: np.ndarray,
          car_cols: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """CARs and t statistics ``(n, W)`` of the market model for ``n`` pairs (NaN = missing)."""
    valid = np.isfinite(est_r) & np.isfinite(est_m)
    m = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_r = np.where(valid, est_r, 0.0).sum(axis=1) / m
        mean_m = np.where(valid, est_m, 0.0).sum(axis=1) / m
        dr = np.where(valid, est_r - mean_r[:, None], 0.0)
        dm = np.where(valid, est_m - mean_m[:, None], 0.0)
        s_mm = (dm * dm).sum(axis=1)
        beta = (dm * dr).sum(axis=1) / s_mm
        alpha = mean_r - beta * mean_m
        resid = dr - beta[:, None] * dm
        s2 = (resid * resid).sum(axis=1) / (m - 2)
        ar = evt_r - alpha[:, None] - beta[:, None] * evt_m
        cars, ts = [], []
        for first, last in car_cols:
            block = ar[:, first : last + 1]
            ok = np.isfinite(block)
            days = ok.sum(axis=1)
            car = np.where(ok, block, 0.0).sum(axis=1)
            d = np.where(ok, evt_m[:, first : last + 1] - mean_m[:, None], 0.0).sum(axis=1)
            var = s2 * (days + days**2 / m + d * d / s_mm)
            cars.append(car)
            ts.append(car / np.sqrt(var))
    return np.stack(cars, axis=1), np.stack(ts, axis=1)
