"""Stationary-bootstrap confidence intervals for CAR and CAAR that keep the cross-section.

Choice (and why): the error of an event's CAR is a sum of ``L_w`` daily abnormal returns
that every instrument draws on the *same* dates. Resampling pairs would treat them as
independent; resampling *dates* of the estimation-window residuals, all instruments of a
date together, keeps their cross-correlation and fat tails. The stationary bootstrap
(Politis-Romano 1994, JASA 89(428)) draws blocks of geometric length, so short-range
serial dependence (volatility clustering) survives and the resampled series stays
stationary; its mean block length is chosen by Politis-White (2004) with the
Patton-Politis-White (2009) correction (``arch.bootstrap.optimal_block_length``) on the
cross-sectional mean residual. Deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stationary_indices(n_obs: int, length: int, n_boot: int, block: float,
                       rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, length)`` row indices of a stationary bootstrap of ``n_obs`` rows.

    Each path starts at a uniform row; each next row is the following one (wrapping) with
    probability ``1 - 1/block``, else a new uniform row (Politis-Romano 1994, sec. 2).

    >>> idx = stationary_indices(10, 5, 3, 1e9, np.random.default_rng(0))
    >>> bool(((np.diff(idx, axis=1) % 10) == 1).all())     # huge blocks: consecutive rows
    True
    """
    start = rng.integers(0, n_obs, size=(n_boot, length))
    restart = rng.random((n_boot, length)) < 1.0 / max(block, 1.0)
    restart[:, 0] = True
    # position of the last restart at or before each step
    step = np.arange(length)[None, :]
    last = np.maximum.accumulate(np.where(restart, step, 0), axis=1)
    first_row = np.take_along_axis(start, last, axis=1)
    return (first_row + step - last) % n_obs


def block_length(resid: np.ndarray) -> float:
    """Mean stationary-bootstrap block length of the cross-sectional mean residual (>= 1).

    Politis-White (2004), corrected by Patton-Politis-White (2009): ``arch``'s
    ``optimal_block_length`` (column ``stationary``).
    """
    from arch.bootstrap import optimal_block_length

    series = np.nanmean(resid, axis=1)
    series = series[np.isfinite(series)]
    if series.size < 10 or not np.std(series) > 0:
        return 1.0
    return float(max(1.0, optimal_block_length(series)["stationary"].iloc[0]))


def bootstrap_car(car: np.ndarray, resid: np.ndarray, windows: Sequence[tuple[int, int]], *,
                  n_boot: int = 999, level: float = 0.95, seed: int = 0,
                  block: float | None = None, min_dates: int = 60) -> dict[str, np.ndarray]:
    """Bootstrap intervals and p-values of each pair's CAR and of the CAAR.

    Parameters
    ----------
    car : (N, W) array — the event's CARs (NaN = none)
    resid : (L1, N) array — estimation-window abnormal returns on common dates; dates where
        a pair has none are dropped (the cross-section is resampled whole)
    windows : W ``(first, last)`` relative days (only the lengths ``L_w`` matter)
    n_boot, level, seed : draws, interval coverage, random seed
    block : mean block length (default :func:`block_length`)
    min_dates : a pair with fewer estimation residuals gets no interval and stays out of
        the CAAR (``n_pairs``), so that its short history does not cut everyone's dates

    Returns
    -------
    dict of arrays: ``car_low``, ``car_high``, ``car_p`` ``(N, W)``; ``caar``, ``caar_low``,
    ``caar_high``, ``caar_p``, ``n_pairs`` ``(W,)``; ``block`` (float); ``n_dates`` (int)

    Notes
    -----
    ``CAR* = sum_{t=1}^{L_w} e*_t`` from the resampled dates estimates the CAR's error;
    the basic (reverse-percentile) interval is ``[CAR - q_{1-a/2}(CAR*), CAR - q_{a/2}(CAR*)]``
    and the p-value of ``CAR = 0`` is ``(1 + #{|CAR*| >= |CAR|}) / (1 + B)`` (Davison-Hinkley
    1997, eq. 5.6 and 4.11). The CAAR's ``CAAR*`` averages the same draws over the pairs.
    The parameter-estimation error of the normal-return model (``L_w^2/L1`` of ``Var(CAR)``,
    under 10 % of it for ``L_w <= 21`` and ``L1 = 240``) is not resampled.
    """
    car = np.asarray(car, dtype=float)
    e = np.asarray(resid, dtype=float)
    # a pair with a short history (a recent listing) would cut the common dates to its own few
    short = np.isfinite(e).sum(axis=0) < min_dates
    car = np.where(short[:, None], np.nan, car)
    e = e[np.isfinite(e[:, ~short]).all(axis=1)]
    e = np.where(short[None, :], 0.0, e)  # never enters: its CAR is NaN
    if block is None:
        block = block_length(e)
    rng = np.random.default_rng(seed)
    n_pairs, w = car.shape
    alpha = (1.0 - level) / 2.0
    out = {k: np.full((n_pairs, w), np.nan) for k in ("car_low", "car_high", "car_p")}
    out |= {k: np.full(w, np.nan) for k in ("caar", "caar_low", "caar_high", "caar_p")}
    if e.shape[0] < 2:
        return out | {"block": block, "n_dates": e.shape[0], "n_pairs": np.zeros(w, dtype=int)}
    with np.errstate(invalid="ignore"):
        caar = np.nanmean(np.where(np.isfinite(car), car, np.nan), axis=0) if n_pairs else out["caar"]
    for j, (first, last) in enumerate(windows):  # per window: a handful
        idx = stationary_indices(e.shape[0], last - first + 1, n_boot, block, rng)
        star = e[idx].sum(axis=1)  # (B, N)
        lo, hi = np.quantile(star, [1.0 - alpha, alpha], axis=0)
        out["car_low"][:, j], out["car_high"][:, j] = car[:, j] - lo, car[:, j] - hi
        out["car_p"][:, j] = (1.0 + (np.abs(star) >= np.abs(car[:, j])).sum(axis=0)) / (1.0 + n_boot)
        have = np.isfinite(car[:, j])
        mean_star = star[:, have].mean(axis=1) if have.any() else np.full(n_boot, np.nan)
        q_lo, q_hi = np.quantile(mean_star, [1.0 - alpha, alpha])
        out["caar"][j] = caar[j]
        out["caar_low"][j], out["caar_high"][j] = caar[j] - q_lo, caar[j] - q_hi
        out["caar_p"][j] = (1.0 + (np.abs(mean_star) >= abs(caar[j])).sum()) / (1.0 + n_boot)
    for key in ("car_low", "car_high", "car_p"):
        out[key] = np.where(np.isfinite(car), out[key], np.nan)
    return out | {"block": block, "n_dates": e.shape[0], "n_pairs": np.isfinite(car).sum(axis=0)}
